package dev.espalier.engine.runtime.node;

import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.nio.file.Path;

/**
 * Refuses, with UNAUTHENTICATED, every call to the node that does not carry its token as
 * {@code authorization: Bearer <token>}; the message says where the token is read from.
 */
final class TokenCheck implements ServerInterceptor {
    static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final String BEARER = "Bearer ";

    private final NodeToken token;
    private final String whereFrom;

    TokenCheck(NodeToken token, Path home) {
        this.token = token;
        this.whereFrom =
                "clients send the token in " + home.resolve(NodeToken.FILE) + " on the node's machine (the client"
                        + " verbs read " + NodeToken.ENV + " when set, else <home>/" + NodeToken.FILE + ")";
    }

    @Override
    public <Q, R> ServerCall.Listener<Q> interceptCall(
            ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String header = headers.get(AUTHORIZATION);
        if (header == null || !header.startsWith(BEARER)) {
            return refuse(
                    call,
                    "this node requires a token (metadata 'authorization: Bearer <token>') and the call had none; ");
        }
        if (!token.matches(header.substring(BEARER.length()).strip())) {
            return refuse(call, "wrong node token; ");
        }
        return next.startCall(call, headers);
    }

    private <Q, R> ServerCall.Listener<Q> refuse(ServerCall<Q, R> call, String problem) {
        call.close(Status.UNAUTHENTICATED.withDescription(problem + whereFrom), new Metadata());
        return new ServerCall.Listener<>() {};
    }
}
