package dev.espalier.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.espalier.engine.SharedFiles;
import java.io.IOException;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Ids against shared/models/tokenizers/NAME/reference_ids.json (produced by the Hugging Face JavaScript libraries):
 * {@code ids_no_special} = encode(text, false), {@code ids_default} = encode(text, addsBosByDefault()).
 */
class HuggingFaceTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Every connection Java's URL stack routes through the default proxy selector while this class runs (downloads);
     * it must stay empty. DJL's call-home goes around the selector, see {@link #djlNeverCalledHome()}.
     */
    private static final List<URI> connections = Collections.synchronizedList(new ArrayList<>());

    private static ProxySelector previousSelector;

    @BeforeAll
    static void recordNetworkAccess() {
        previousSelector = ProxySelector.getDefault();
        ProxySelector.setDefault(new ProxySelector() {
            @Override
            public List<Proxy> select(URI uri) {
                connections.add(uri);
                // an unreachable proxy makes any attempt fail at once instead of waiting for a timeout
                return List.of(new Proxy(Proxy.Type.HTTP, new InetSocketAddress("127.0.0.1", 9)));
            }

            @Override
            public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
        });
    }

    @AfterAll
    static void restoreProxySelector() {
        ProxySelector.setDefault(previousSelector);
    }

    @ParameterizedTest
    @CsvSource({
        "tinyllama,           32000, 1,  2,  true,  3",
        "tinyllama-metaspace, 32000, 1,  2,  true,  0",
        "gpt2,                50257, -1, -1, false, 2",
        "smollm-135m-ft,      49153, 0,  0,  false, 0"
    })
    void matchesEveryReferenceCase(String name, int vocab, int bos, int eos, boolean addsBos, int repairs)
            throws IOException {
        JsonNode reference = JSON.readTree(SharedFiles.path("models/tokenizers/" + name + "/reference_ids.json")
                .toFile());
        try (HuggingFaceTokenizer tokenizer =
                HuggingFaceTokenizer.read(SharedFiles.path("models/tokenizers/" + name + "/tokenizer.json"))) {
            assertEquals(vocab, tokenizer.vocabSize(), name);
            assertEquals(bos, tokenizer.bosId(), name);
            assertEquals(eos, tokenizer.eosId(), name);
            assertEquals(addsBos, tokenizer.addsBosByDefault(), name);
            assertEquals(repairs, tokenizer.repairs().size(), name + ": " + tokenizer.repairs());
            assertEquals(4, reference.path("cases").size(), name);
            for (JsonNode c : reference.path("cases")) {
                String text = c.path("text").asText();
                String where = name + "/" + c.path("name").asText();
                int[] noSpecial = ints(c.path("ids_no_special"));
                assertArrayEquals(noSpecial, tokenizer.encode(text, false), where + " ids_no_special");
                assertArrayEquals(
                        ints(c.path("ids_default")),
                        tokenizer.encode(text, tokenizer.addsBosByDefault()),
                        where + " ids_default");
                boolean hasSpecial = text.contains("<unk>") || text.contains("<s>") || text.contains("<|endoftext|>");
                if (c.path("roundtrip_equal").asBoolean() && !hasSpecial) {
                    assertEquals(text, tokenizer.decode(noSpecial), where + " decode");
                }
            }
        }
        assertEquals(List.of(), connections, "network connections attempted while loading and encoding");
        djlNeverCalledHome();
    }

    /** DJL's Ec2Utils.callHome records the time it last contacted EC2 metadata/telemetry; offline it stays 0. */
    private static void djlNeverCalledHome() {
        try {
            Field lastCheckIn = Class.forName("ai.djl.util.Ec2Utils").getDeclaredField("lastCheckIn");
            lastCheckIn.setAccessible(true);
            assertEquals(0L, lastCheckIn.getLong(null), "DJL called home (EC2 metadata / telemetry)");
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("cannot inspect ai.djl.util.Ec2Utils.lastCheckIn (DJL version changed?)", e);
        }
    }

    @Test
    void repairsAreTheDocumentedDefectsOfTheFetchedFiles() {
        try (HuggingFaceTokenizer gpt2 =
                        HuggingFaceTokenizer.read(SharedFiles.path("models/tokenizers/gpt2/tokenizer.json"));
                HuggingFaceTokenizer llama =
                        HuggingFaceTokenizer.read(SharedFiles.path("models/tokenizers/tinyllama/tokenizer.json"))) {
            assertEquals(
                    List.of(
                            "model.type was missing; inferred BPE",
                            "merge 40303 \"ĠCla ude\" dropped: \"ĠClaude\" or a half is not in the vocabulary"),
                    gpt2.repairs());
            assertEquals(
                    List.of(
                            "merge 18917 \"   \" read as [\" \", \" \"]",
                            "merge 38142 \"     \" read as [\"  \", \"  \"]",
                            "merge 42805 \"▁  \" read as [\"▁\", \" \"]"),
                    llama.repairs());
        }
    }

    @Test
    void decodeNextDropsTheLeadingSpaceOnlyAfterBos() {
        try (HuggingFaceTokenizer tokenizer =
                HuggingFaceTokenizer.read(SharedFiles.path("models/tokenizers/tinyllama/tokenizer.json"))) {
            int[] ids = tokenizer.encode("Once upon", true);
            assertArrayEquals(new int[] {1, 9038, 2501}, ids);
            assertEquals("Once", tokenizer.decodeNext(1, ids[1]));
            assertEquals(" upon", tokenizer.decodeNext(ids[1], ids[2]));
            assertEquals("Once upon", tokenizer.decode(ids));
        }
        assertTrue(connections.isEmpty());
    }

    @Test
    void tinyllamaEqualsTheLlama2SentencepieceModelOnTheWholeTinyStoriesSample() {
        String text = SharedFiles.text("data/tinystories/tinystories_val_sample.txt");
        SentencePieceTokenizer sentencePiece =
                SentencePieceTokenizer.read(SharedFiles.path("models/llama2c-tokenizer-32000/tokenizer.model"));
        try (HuggingFaceTokenizer tokenizer =
                HuggingFaceTokenizer.read(SharedFiles.path("models/tokenizers/tinyllama/tokenizer.json"))) {
            int[] ids = tokenizer.encode(text, true);
            assertEquals(212_398, ids.length);
            assertArrayEquals(sentencePiece.encode(text, true), ids);
        }
    }

    @Test
    void truncationAndPaddingInTokenizerJsonAreIgnored() {
        // smollm-135m-ft's tokenizer.json sets truncation 192 and fixed padding 192 ([PAD] = 49152).
        String text =
                SharedFiles.text("data/tinystories/tinystories_val_sample.txt").substring(0, 20_000);
        try (HuggingFaceTokenizer tokenizer =
                HuggingFaceTokenizer.read(SharedFiles.path("models/tokenizers/smollm-135m-ft/tokenizer.json"))) {
            int[] ids = tokenizer.encode(text, false);
            assertTrue(ids.length > 192 * 10, "got " + ids.length + " ids");
            assertEquals(text, tokenizer.decode(ids));
            assertArrayEquals(new int[0], tokenizer.encode("", false));
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }
}
