package dev.fathom.checkpoint;

import dev.fathom.FathomException;
import dev.fathom.tensor.Tensor;
import dev.fathom.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model's weights and what comes with them, independent of the file format: the architecture, the
 * hyper-parameters under Hugging Face names ({@link ConfigValues}), the tokenizer, the chat template, and tensors
 * by a canonical name. Tensors are views into memory-mapped files (nothing is copied), shapes in ggml order
 * (shape[0] is the row length).
 *
 * <p>Canonical names follow DeepSeek-V3's {@code inference/model.py}: {@code embed.weight}, {@code norm.weight},
 * {@code head.weight} (absent when the head is tied to the embedding), and per layer N
 * {@code layers.N.attn_norm.weight}, {@code layers.N.ffn_norm.weight}; attention {@code layers.N.attn.} +
 * {@code wq, wq_a, q_norm, wq_b, wkv_a, kv_norm, wk_b, wv_b, wo} (MLA, with {@code wkv_b} already split per head into
 * its key part {@code wk_b} [nope, kv_lora, heads] and value part {@code wv_b} [kv_lora, v_head_dim, heads], see
 * {@link KvBSplit}; {@code wkv_b} itself where the file stores it unsplit, as Hugging Face folders do) or
 * {@code wq, wk, wv, wo} with optional {@code .bias} (grouped-query attention); feed-forward {@code layers.N.ffn.}
 * + {@code w1, w2, w3} (gate, down, up), for MoE also {@code gate.weight} (router), {@code gate.bias} (V3's
 * e_score_correction_bias), {@code experts.w1/w2/w3.weight} (one tensor per expert, see {@link #experts}) and
 * {@code shared_experts.w1/w2/w3.weight}; {@code rope.freqs} holds per-pair frequency divisors where a file stores
 * them (llama3 scaling in llama.cpp's GGUF).
 */
public interface Checkpoint extends AutoCloseable {
    /** The architectures Fathom runs, by llama.cpp's names. */
    List<String> ARCHITECTURES = List.of("deepseek2", "qwen2", "llama");

    /** Opens a model: a GGUF file (also the first part of a split GGUF) or a Hugging Face folder. */
    static Checkpoint open(Path path) throws IOException {
        if (Files.isDirectory(path)) return HfCheckpoint.open(path);
        if (!Files.exists(path)) throw new FathomException(path + ": no such file");
        return GgufCheckpoint.open(path);
    }

    /** Checks that Fathom runs {@code arch}; the error names it and lists the supported ones. */
    static String supported(String source, String arch) {
        if (!ARCHITECTURES.contains(arch)) {
            throw new FathomException(source + ": architecture '" + arch + "' is not supported; Fathom runs "
                    + String.join(", ", ARCHITECTURES));
        }
        return arch;
    }

    /** The sampling the model's publisher recommends (each part null where not given). */
    SamplingDefaults samplingDefaults();

    /** The file (or first file) the checkpoint was read from, for messages. */
    String source();

    /** One line on the format: "GGUF v3, 2 files, alignment 32". */
    String format();

    /** {@code deepseek2}, {@code qwen2} or {@code llama}. */
    String architecture();

    ConfigValues config();

    /** The model's name ({@code general.name}), else the file name without extension. */
    String name();

    Tokenizer tokenizer();

    /** The Jinja chat template the file carries, if any. */
    Optional<String> chatTemplate();

    /** Whether the weights of llama-architecture attention are stored with llama.cpp's q/k row permutation. */
    boolean ropePermuted();

    boolean has(String name);

    /** The tensor with this canonical name; a missing one is an error naming the file and both names. */
    Tensor tensor(String name);

    /** Checks a tensor's shape (ggml order) against what the config implies; the error names both shapes. */
    default Tensor tensor(String name, long... shape) {
        Tensor t = tensor(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new FathomException(source() + ": tensor '" + name + "' (" + t.name() + ") has shape "
                    + Arrays.toString(t.shape()) + ", the config needs " + Arrays.toString(shape));
        }
        return t;
    }

    /** The {@code count} experts' tensors of {@code name}, each [in, out] (views of stacked storage where a file stacks them). */
    Tensor[] experts(String name, int count, long in, long out);

    /** Every tensor as the file stores it (file names), for byte counts and listings. */
    Map<String, Tensor> storedTensors();

    /** Format-specific metadata for display ({@code fathom inspect --metadata}). */
    Map<String, String> metadata();

    /** Total bytes of the files. */
    long fileBytes();

    @Override
    void close();
}
