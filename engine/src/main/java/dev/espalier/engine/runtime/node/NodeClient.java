package dev.espalier.engine.runtime.node;

import dev.espalier.protocol.v1.EspalierNodeGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.stub.MetadataUtils;
import java.util.concurrent.TimeUnit;

/** A gRPC channel to a node that sends the node's token on every call, with its stubs; close it when done. */
public final class NodeClient implements AutoCloseable {
    private final NodeAddress address;
    private final ManagedChannel channel;

    private NodeClient(NodeAddress address, ManagedChannel channel) {
        this.address = address;
        this.channel = channel;
    }

    /** A plaintext client of the node at {@code address} (a loopback node; connects lazily, on the first call). */
    public static NodeClient connect(NodeAddress address, NodeToken token) {
        return connect(address, token, InsecureChannelCredentials.create());
    }

    /** A client of the node at {@code address} over {@code credentials} (TLS for a node beyond loopback). */
    public static NodeClient connect(NodeAddress address, NodeToken token, ChannelCredentials credentials) {
        Metadata headers = new Metadata();
        headers.put(TokenCheck.AUTHORIZATION, TokenCheck.BEARER + token.value());
        return new NodeClient(
                address,
                Grpc.newChannelBuilderForAddress(address.host(), address.port(), credentials)
                        .intercept(MetadataUtils.newAttachHeadersInterceptor(headers))
                        .build());
    }

    public NodeAddress address() {
        return address;
    }

    /** A blocking stub whose calls fail after {@code seconds} (use {@link #streaming()} for WatchJob). */
    public EspalierNodeGrpc.EspalierNodeBlockingStub blocking(long seconds) {
        return EspalierNodeGrpc.newBlockingStub(channel).withDeadlineAfter(seconds, TimeUnit.SECONDS);
    }

    /** A blocking stub without deadline, for streams that last as long as a job. */
    public EspalierNodeGrpc.EspalierNodeBlockingStub streaming() {
        return EspalierNodeGrpc.newBlockingStub(channel);
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
