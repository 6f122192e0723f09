package dev.espalier.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.espalier.kernels.cpu.CpuOps;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Every method gives the same bytes as before the runtime redesign: the SHA-256 of each method's exported
 * {@code model.safetensors} on stories260K (8 × 128 tokens of the TinyStories sample, seed 0) was recorded on main
 * before the change (commit 476073d) and must not move. A change that alters a result on purpose updates the hash
 * here and says why in its commit message.
 *
 * <p>Three hashes a row: with 512-bit vectors (AVX-512, the machine of 476073d), with 512-bit vectors on a later
 * machine of this project's kind (AMD EPYC with avx512_bf16 and avx512_vp2intersect, Temurin 25.0.3, recorded
 * 2026-12-07 with the code of 8608ad8 and again after the shared compute pool: the same bytes both times) and with
 * 256-bit ones (AVX2: AMD EPYC, recorded 2026-12-06). The two AVX-512 machines agree on magnitude, Wanda, Wanda-sp and
 * policy gradient and differ in the last bits on the methods that sum through the kernels, as the widths do; what
 * differs between them (both run OpenBLAS 0.3.31 with its Haswell kernels) is not pinned down. A result must equal
 * one of its width's recorded hashes. The kernels reduce sums across the machine's vector lanes ({@link CpuOps#vectorBits}), so the
 * methods whose results go through such sums (Grams, solves, scores) differ in the last bits between the two widths;
 * magnitude, Wanda, Wanda-sp and the policy-gradient rows happen to agree.
 *
 * <p>GOA's default score became depth2-swiglu on 2026-12-07 (README, "GOA scores"): the earlier rows keep their bytes
 * with {@code score=depth2} set, and the new default's rows (and policy gradient from GOA's scores) were recorded on an
 * AVX-512 machine only; "-" marks a width not recorded, and the row is skipped there. Running the JVM with
 * {@code -XX:UseAVX=2} on AVX-512 hardware does not reproduce the AVX2 machine's bytes (checked on SparseGPT's row), so
 * the 256-bit column can only be filled on an AVX2 machine.
 */
class MethodBytesIT {

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
        "magnitude, 0.5, '', 11e9b6cb242455c4ae4c34564bb49e3263c6e938eed21552b89152a29010a0ac, 11e9b6cb242455c4ae4c34564bb49e3263c6e938eed21552b89152a29010a0ac, 11e9b6cb242455c4ae4c34564bb49e3263c6e938eed21552b89152a29010a0ac",
        "wanda, 0.5, '', 5baa03310764c668d221a74a8192151c8623a0c5de89caef81c8810af05c02c7, 5baa03310764c668d221a74a8192151c8623a0c5de89caef81c8810af05c02c7, 5baa03310764c668d221a74a8192151c8623a0c5de89caef81c8810af05c02c7",
        "sparsegpt, 0.5, '', aee7b9dd73d30ea06272617a10b6f016fd7fffb2982c115e16ca0bac5e9641ad, 7b93e28e1c593d6bb85637f28198dfaeb244eab56d34c22bdd5571f6c27d4833, 059ec59a268897680d2ceba159524f9164e150756f2d6c2fb8ee8a375f742ae2",
        "sparsegpt, 0, --pattern=2:4, 7d07b508885b331cfc72ace5362d369e8bcaa8f8b5e124b3f1dacdb535000ca3, e4c263abc23bd682b78d4c89ac73947efbd3c5b7705fb6b5c5e1d35619b0a68d, 136c37524d28ec0b4d28396e1b713778d18a2ad5e87bfce68d19fcad329adbae",
        "alps, 0.7, '', 22e2b66800829b6f6a3588f7ebecc46cab882f1b6a878f8655fab1bcdd0ea911, ed0448f0a2b4ab3fca795b8ca3d2e3a0641c8fee1f96f2e0fa708c28f3d95a55, e4703668ab94c0661b0899b4ef1e0ed43d28406ba438041235e6ba4bee6b9889",
        "wanda-sp, 0.3, '', 7dbc19c0975b837cffcbe928621d130364906e871b4b2dfa311981e7847be6eb, 7dbc19c0975b837cffcbe928621d130364906e871b4b2dfa311981e7847be6eb, 7dbc19c0975b837cffcbe928621d130364906e871b4b2dfa311981e7847be6eb",
        "flap, 0.3, --export=masked-dense, fc1ce51296a3ee7acc1aa133fd5055c97f384ee066396976fda794751d6e3613, ead5c46fdcfaeaf9d99794fbc818c7ada66849fed8357ec823838ae4a27abc98, 0efa74c17a591955f9cb084d8e00d1c01b78732a037859cd5a5ca86c93a87686",
        "goa, 0.3, --method-option=score=depth2, 39abe116415f4e13c5c9504fab21676876a883970efa1504cf44de77346b62c1, d95a9e06fb33200be312db666854c06fea5dba7fba91035db09021e90438f578, 5488e27d4766cb607624625aa38bbce3285c9972997b9981434a8c3bc8f63e52",
        "goa, 0.3, --calib=self --method-option=score=depth2, c106930c24e50aebac270dc36d242326ce38d35db2796bbaa90e972471e9611a, 3d0b4ed8939deba574c47879c0bc5f74b50653ddd8754a47a913fef73a1d0a63, daad80f5dfbd1b9481c1b6a931f8d0e6eb9b2875629bf0774763049cc183bb8a",
        "goa, 0.3, '', a2676367ae6b2e7d11d4902608759381482b3a4dca10f0298eb20233e9c2efd0, 224523651bc88b0e478a5c5a5fd5e6d4513f1085e0f34a5c388a164987232504, -",
        "goa, 0.3, --calib=self, c29eb6e9b4df31fef04efd240d093d0103080ee3afdfda8eb122e7bc5ee670b3, bb19a4bcc0239c4dbf0c09789a9ed44e5ad26ecb354fccf45774be4bbe47b009, -",
        "policy-gradient, 0.3, --steps=12, bef76f93a9d4c2c22b0824c34a2c5ce943d93469ce072461675a867b5961133c, bef76f93a9d4c2c22b0824c34a2c5ce943d93469ce072461675a867b5961133c, bef76f93a9d4c2c22b0824c34a2c5ce943d93469ce072461675a867b5961133c",
        "policy-gradient, 0.3, --init=goa --steps=6, 4d726b73278c04bc5729df932dede7a1b00293cbcaac7a68084ab2a5c5317ae4, 4d726b73278c04bc5729df932dede7a1b00293cbcaac7a68084ab2a5c5317ae4, -",
    })
    void exportIsByteIdenticalToTheRecordedOne(
            String method,
            double sparsity,
            String extra,
            String avx512,
            String avx512Later,
            String avx2,
            @TempDir Path tmp)
            throws Exception {
        int bits = CpuOps.vectorBits();
        assumeTrue(bits == 512 || bits == 256, "no hash recorded for " + bits + "-bit vectors");
        List<String> expected = bits == 512 ? List.of(avx512, avx512Later) : List.of(avx2);
        assumeTrue(!expected.contains("-"), "no hash recorded for " + bits + "-bit vectors in this row");
        Path out = tmp.resolve("model");
        String data = SharedData.data("tinystories/tinystories_val_sample.txt").toString();
        List<String> args = new ArrayList<>(List.of(
                "prune",
                "--quiet",
                "--model",
                SharedData.model("stories260K/stories260K.bin").toString(),
                "--method",
                method,
                "--calib",
                data,
                "--calib-samples",
                "8",
                "--calib-seqlen",
                "128",
                "--seed",
                "0",
                "--devices",
                "cpu:2",
                "--out",
                out.toString()));
        if (sparsity > 0) {
            args.addAll(List.of("--sparsity", Double.toString(sparsity)));
        }
        boolean selfCalibration = false;
        for (String flag : extra.isBlank() ? new String[0] : extra.trim().split(" ")) {
            String[] kv = flag.split("=", 2);
            if (kv[0].equals("--calib")) {
                args.set(args.indexOf("--calib") + 1, kv[1]);
                selfCalibration = true;
            } else {
                args.addAll(List.of(kv[0], kv[1]));
            }
        }
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertEquals(0, run.exitCode(), run.err());
        byte[] digest =
                MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(out.resolve("model.safetensors")));
        String actual = HexFormat.of().formatHex(digest);
        assertTrue(
                expected.contains(actual),
                method + " " + extra + (selfCalibration ? " (data-free)" : "") + ", " + bits + "-bit vectors: got "
                        + actual + ", recorded " + expected);
    }
}
