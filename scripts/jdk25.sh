# Sourced by ./espalier and ./run-tests: exports JAVA_HOME as a JDK 25 (the default `java` here may be older).
# Looks at $JAVA_HOME, then `java` on PATH, then the usual install folders.
is_jdk25() { [ -x "$1/bin/javac" ] && "$1/bin/java" -version 2>&1 | head -1 | grep -qE 'version "25[."]'; }
if [ -n "${JAVA_HOME:-}" ] && is_jdk25 "$JAVA_HOME"; then
  :
else
  found=""
  if command -v javac >/dev/null 2>&1; then
    candidate=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
    is_jdk25 "$candidate" && found=$candidate
  fi
  if [ -z "$found" ]; then
    for d in /usr/lib/jvm/*25* /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/*; do
      if [ -d "$d" ] && is_jdk25 "$d"; then found=$d; break; fi
    done
  fi
  if [ -z "$found" ]; then
    echo "espalier: no JDK 25 found (looked at JAVA_HOME, javac on PATH, /usr/lib/jvm, /opt); install one or set JAVA_HOME" >&2
    exit 2
  fi
  export JAVA_HOME=$found
fi
export PATH="$JAVA_HOME/bin:$PATH"
