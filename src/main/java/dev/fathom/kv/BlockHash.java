package dev.fathom.kv;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The identity of a full KV block's contents: a chained hash, {@code h(b) = SHA-256(h(b-1) || tokens of b)} cut to
 * 128 bits, with {@code h(-1)} the hash of the model and the cache's number format. Two blocks with equal hashes hold
 * the KV of the same tokens after the same prefix under the same model, so one can stand for the other (vLLM's and
 * DeepSeek's prefix caching rule: only a whole prefix can hit).
 */
public record BlockHash(long hi, long lo) {

    /** The chain's start: everything besides the tokens that changes a block's KV. */
    public static BlockHash root(byte[] modelIdentity, String kvFormat) {
        MessageDigest d = sha256();
        d.update(modelIdentity);
        d.update(kvFormat.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        return of(d.digest());
    }

    /** The hash of the block holding {@code tokens[from .. from + 64)} after this one. */
    public BlockHash next(int[] tokens, int from) {
        ByteBuffer b = ByteBuffer.allocate(16 + 4 * KvBlockPool.BLOCK_TOKENS).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(hi).putLong(lo);
        for (int i = 0; i < KvBlockPool.BLOCK_TOKENS; i++) b.putInt(tokens[from + i]);
        return of(sha256().digest(b.array()));
    }

    /** 32 hexadecimal digits (file names). */
    public String hex() {
        return HexFormat.of().toHexDigits(hi) + HexFormat.of().toHexDigits(lo);
    }

    private static BlockHash of(byte[] digest) {
        ByteBuffer b = ByteBuffer.wrap(digest);
        return new BlockHash(b.getLong(), b.getLong());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
