package dev.fathom.gguf;

import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Files beyond 2 GiB (and tensors beyond 2 GiB) map and read correctly; a sparse file keeps the test fast. */
class LargeGgufTest {
    @TempDir
    Path dir;

    @Test
    void readsTensorsBeyondTwoGiB() throws Exception {
        long big = 3L << 30; // a 3 GiB F32 tensor: 805306368 values in rows of 4096
        long rows = big / 4 / 4096;
        MalformedGgufTest.Raw r = new MalformedGgufTest.Raw().header(2, 0)
                .tensorInfo("huge", TensorType.F32.ggmlId, 0, 4096, rows)
                .tensorInfo("after", TensorType.F32.ggmlId, big, 32).padTo(32);
        byte[] header = r.bytes();
        Path p = dir.resolve("big.gguf");
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.write(header);
            f.setLength(header.length + big + 128); // sparse: no disk blocks for the zeros
            f.seek(header.length + big - 4);         // last value of "huge"
            f.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(42.5f).array());
            f.seek(header.length + big + 4);         // second value of "after"
            f.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(-7f).array());
        }
        try (GgufFile g = GgufFile.open(p)) {
            Tensor huge = g.tensor("huge");
            assertEquals(big, huge.data().byteSize());
            float[] row = new float[4096];
            huge.dequantizeRow(rows - 1, row);
            assertEquals(42.5f, row[4095]);
            assertEquals(-7f, g.tensor("after").toFloatArray()[1]);
            assertEquals(g.dataOffset() + big, g.dataOffset() + g.tensorDataOffset("after"));
            assertTrue(MemorySegment.class.isInstance(huge.data()));
        }
    }
}
