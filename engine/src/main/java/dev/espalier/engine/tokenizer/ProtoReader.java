package dev.espalier.engine.tokenizer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * A minimal reader of the protobuf wire format: tags, varints, fixed32/fixed64 and length-delimited fields, over
 * one message's bytes. Enough to read a sentencepiece {@code ModelProto} without generated code.
 */
final class ProtoReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    /** The bytes are not a well-formed protobuf message. */
    static final class MalformedProtoException extends RuntimeException {
        MalformedProtoException(String message) {
            super(message);
        }
    }

    private final ByteBuffer in; // the message's bytes, position = next unread byte
    private final int base; // offset of this message in the outermost buffer, for error messages
    private int tag;

    ProtoReader(ByteBuffer message) {
        this(message, 0);
    }

    private ProtoReader(ByteBuffer message, int base) {
        this.in = message.slice().order(ByteOrder.LITTLE_ENDIAN);
        this.base = base;
    }

    /** Advances to the next field; false at the end of the message. */
    boolean next() {
        if (!in.hasRemaining()) {
            return false;
        }
        long t = readVarint();
        if (t <= 0 || t > Integer.MAX_VALUE || (t >>> 3) == 0) {
            throw malformed("invalid field tag " + t);
        }
        tag = (int) t;
        return true;
    }

    int fieldNumber() {
        return tag >>> 3;
    }

    int wireType() {
        return tag & 7;
    }

    long readVarint() {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (!in.hasRemaining()) {
                throw malformed("truncated varint");
            }
            byte b = in.get();
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return value;
            }
        }
        throw malformed("varint longer than 10 bytes");
    }

    boolean readBool() {
        expect(VARINT);
        return readVarint() != 0;
    }

    int readInt32() {
        expect(VARINT);
        return (int) readVarint();
    }

    float readFloat() {
        expect(FIXED32);
        need(4);
        return in.getFloat();
    }

    ByteBuffer readBytes() {
        expect(LENGTH_DELIMITED);
        long length = readVarint();
        if (length < 0 || length > in.remaining()) {
            throw malformed(
                    "length " + length + " runs past the end of the message (" + in.remaining() + " bytes left)");
        }
        ByteBuffer bytes = in.slice(in.position(), (int) length);
        in.position(in.position() + (int) length);
        return bytes;
    }

    String readString() {
        ByteBuffer bytes = readBytes();
        byte[] b = new byte[bytes.remaining()];
        bytes.get(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /** A reader over the current length-delimited field, an embedded message. */
    ProtoReader readMessage() {
        int offset = base + in.position();
        return new ProtoReader(readBytes(), offset);
    }

    /** Skips the current field's value. */
    void skip() {
        switch (wireType()) {
            case VARINT -> readVarint();
            case FIXED64 -> skipBytes(8);
            case LENGTH_DELIMITED -> readBytes();
            case FIXED32 -> skipBytes(4);
            default -> throw malformed("unsupported wire type " + wireType() + " for field " + fieldNumber());
        }
    }

    private void skipBytes(int n) {
        need(n);
        in.position(in.position() + n);
    }

    private void need(int n) {
        if (in.remaining() < n) {
            throw malformed("truncated field " + fieldNumber());
        }
    }

    private void expect(int wireType) {
        if (wireType() != wireType) {
            throw malformed("field " + fieldNumber() + " has wire type " + wireType() + ", expected " + wireType);
        }
    }

    private MalformedProtoException malformed(String problem) {
        return new MalformedProtoException(problem + " at byte " + (base + in.position()));
    }
}
