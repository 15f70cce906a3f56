package dev.fathom.kernel;

import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufFile;
import dev.fathom.tensor.HalfFloats;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Vector kernels against the scalar reference for every type: random shapes, odd block counts, F32 tails, row
 * offsets inside larger tensors; and the determinism contract (batched == alone, 1 thread == 2 threads).
 */
class VectorKernelsTest {
    private static final int MAX = 8192;
    private static Kernels one, two;

    @BeforeAll
    static void start() {
        one = Kernels.vector(MAX, 1);
        two = Kernels.vector(MAX, 2);
    }

    @AfterAll
    static void stop() {
        one.close();
        two.close();
    }

    static List<TensorType> types() {
        return TestTensors.supportedTypes();
    }

    /** Row lengths to try: odd numbers of blocks, and for 1-value blocks lengths around the vector widths. */
    static int[] lengths(TensorType t) {
        if (t.blockSize == 1) return new int[] {1, 3, 7, 8, 9, 15, 16, 31, 33, 64, 100, 257, 1000, 4099};
        if (t.blockSize == 32) return new int[] {32, 64, 96, 160, 224, 544, 1056, 4096};
        return new int[] {256, 512, 768, 1280, 2304, 4096};
    }

    /** |vector - scalar| must be within float32 reassociation error of the sum of |w_i x_i|. */
    private static void assertClose(Tensor w, long firstRow, int rows, float[] x, int xOff, float[] expected,
                                    float[] actual, int outOff, String what) {
        int n = (int) w.rowLength();
        float[] row = new float[n];
        for (int r = 0; r < rows; r++) {
            w.dequantizeRow(firstRow + r, row);
            double mag = 0;
            for (int i = 0; i < n; i++) mag += Math.abs((double) row[i] * x[xOff + i]);
            double tol = 3e-7 * Math.sqrt(n) * mag + 1e-30;
            float e = expected[outOff + r], a = actual[outOff + r];
            assertTrue(Math.abs(e - a) <= tol, () -> what + " row " + (firstRow) + "+" + " : scalar " + e + " vector " + a + " tol " + tol);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void matchesScalarOnRandomShapes(TensorType type) {
        Random rnd = new Random(type.ordinal() * 7919L);
        Kernels ref = Kernels.scalar(MAX);
        try (Arena arena = Arena.ofShared()) {
            for (int n : lengths(type)) {
                int total = 3 + rnd.nextInt(30);
                Tensor w = TestTensors.random(type, total, n, rnd.nextLong(), arena);
                long first = rnd.nextInt(total);
                int rows = 1 + rnd.nextInt((int) (total - first));
                int xOff = rnd.nextInt(5), outOff = rnd.nextInt(3);
                float[] x = new float[xOff + n];
                System.arraycopy(TestTensors.gaussian(n, rnd.nextLong()), 0, x, xOff, n);
                float[] expected = new float[outOff + rows], a = new float[outOff + rows], b = new float[outOff + rows];
                ref.matvec(w, first, rows, x, xOff, expected, outOff);
                one.matvec(w, first, rows, x, xOff, a, outOff);
                two.matvec(w, first, rows, x, xOff, b, outOff);
                assertClose(w, first, rows, x, xOff, expected, a, outOff, type + " n=" + n + " rows " + first + "+" + rows);
                assertArrayEquals(a, b, type + " n=" + n + ": 1 vs 2 threads");
            }
        }
    }

    /** Large enough products to be split across threads; batched products of 1..9 vectors. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void batchedAndThreadedResultsAreBitIdentical(TensorType type) {
        int n = type.blockSize == 1 ? 1030 : 1024;
        int total = 300, first = 7, rows = 280;
        Random rnd = new Random(type.ordinal());
        try (Arena arena = Arena.ofShared()) {
            Tensor w = TestTensors.random(type, total, n, 42, arena);
            assertTrue(w.rowBytes() * rows >= VectorKernels.MIN_PARALLEL_BYTES || type.bytesPerBlock * 8 < type.blockSize * 5);
            int nx = 9, xStride = n + 3, outStride = rows + 2;
            float[] xs = TestTensors.gaussian(nx * xStride, rnd.nextLong());
            float[] alone = new float[nx * outStride];
            for (int t = 0; t < nx; t++) one.matvec(w, first, rows, xs, t * xStride, alone, t * outStride);
            for (int batch = 1; batch <= nx; batch++) {
                for (Kernels k : new Kernels[] {one, two}) {
                    float[] out = new float[nx * outStride];
                    for (int t0 = 0; t0 < nx; t0 += batch) {
                        int b = Math.min(batch, nx - t0);
                        k.matmul(w, first, rows, xs, t0 * xStride, xStride, b, out, t0 * outStride, outStride);
                    }
                    assertArrayEquals(alone, out, type + " batch " + batch + (k == one ? " 1 thread" : " 2 threads"));
                }
            }
            float[] viaTwo = new float[nx * outStride];
            for (int t = 0; t < nx; t++) two.matvec(w, first, rows, xs, t * xStride, viaTwo, t * outStride);
            assertArrayEquals(alone, viaTwo, type + " matvec 1 vs 2 threads");
            float[] ref = new float[nx * outStride];
            Kernels.scalar(MAX).matmul(w, first, rows, xs, 0, xStride, nx, ref, 0, outStride);
            for (int t = 0; t < nx; t++) {
                assertClose(w, first, rows, xs, t * xStride, ref, alone, t * outStride, type + " x" + t);
            }
        }
    }

    /** A batch longer than the GEMM's activation block, rows not a multiple of its groups: the bits of matvec. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("types")
    void longBatchesAreBitIdenticalToMatvec(TensorType type) {
        int n = type.blockSize == 1 ? 1037 : 1280, rows = 37, nx = 133;
        try (Arena arena = Arena.ofShared()) {
            Tensor w = TestTensors.random(type, rows + 5, n, 7, arena);
            float[] xs = TestTensors.gaussian(nx * n, 11);
            float[] alone = new float[nx * rows], batch = new float[nx * rows];
            for (int t = 0; t < nx; t++) one.matvec(w, 5, rows, xs, t * n, alone, t * rows);
            two.matmul(w, 5, rows, xs, 0, n, nx, batch, 0, rows);
            assertArrayEquals(alone, batch, type + ": " + nx + " activations batched vs alone");
        }
    }

    static List<String> goldenTypes() {
        return List.of("F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL");
    }

    /** llama.cpp-quantised tensors (shared/golden/quants). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("goldenTypes")
    void matchesScalarOnGoldenQuants(String typeName) throws IOException {
        Kernels ref = Kernels.scalar(MAX);
        try (GgufFile f = GgufFile.open(Fixtures.golden("quants/" + typeName + ".gguf"))) {
            for (String name : new String[] {"a", "b"}) {
                Tensor w = f.tensor(name);
                assertEquals(TensorType.valueOf(typeName), w.type());
                int n = (int) w.rowLength(), rows = (int) w.rowCount();
                float[] x = TestTensors.gaussian(n, 5);
                float[] expected = new float[rows], a = new float[rows], b = new float[rows];
                ref.matvec(w, 0, rows, x, 0, expected, 0);
                one.matvec(w, 0, rows, x, 0, a, 0);
                two.matvec(w, 1, rows - 1, x, 0, b, 1);
                assertClose(w, 0, rows, x, 0, expected, a, 0, typeName + " " + name);
                for (int r = 1; r < rows; r++) assertEquals(a[r], b[r], typeName + " " + name + " row " + r);
            }
        }
    }

    /** F16 and BF16 widening is exact for subnormals, infinities, NaN and signed zeros. */
    @Test
    void halfFloatsWidenExactly() {
        ValueLayout.OfShort le = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        int n = 1 << 16;
        for (TensorType type : new TensorType[] {TensorType.F16, TensorType.BF16}) {
            try (Arena arena = Arena.ofShared()) {
                MemorySegment seg = arena.allocate(2L * n * n / 1024);
                // 64 rows of 1024: every 16-bit pattern once, each pattern alone in its row slot
                int cols = 1024, rows = n / cols;
                for (int i = 0; i < n; i++) seg.set(le, 2L * i, (short) i);
                Tensor w = new Tensor("all", type, new long[] {cols, rows}, seg);
                float[] row = new float[cols];
                for (int c = 0; c < cols; c += 37) {
                    float[] x = new float[cols];
                    x[c] = 1f;
                    float[] out = new float[rows];
                    one.matvec(w, 0, rows, x, 0, out, 0);
                    for (int r = 0; r < rows; r++) {
                        w.dequantizeRow(r, row);
                        float e = row[c] * 1f;
                        for (int i = 0; i < cols; i++) if (i != c && Float.isNaN(row[i] * 0f)) e = Float.NaN;
                        if (Float.isNaN(e)) {
                            assertTrue(Float.isNaN(out[r]), type + " row " + r);
                        } else {
                            assertEquals(Float.floatToIntBits(e + 0f), Float.floatToIntBits(out[r] + 0f), type + " row " + r + " col " + c);
                        }
                    }
                }
                // the widening itself, lane by lane: a one-hot x picks one value
                short[] specials = {0x0001, 0x03FF, 0x0400, (short) 0x8001, 0x7C00, (short) 0xFC00, 0x7BFF, (short) 0x8000};
                MemorySegment s2 = arena.allocate(2L * 64);
                for (int i = 0; i < 64; i++) s2.set(le, 2L * i, specials[i % specials.length]);
                Tensor t2 = new Tensor("s", type, new long[] {64, 1}, s2);
                for (int c = 0; c < 64; c++) {
                    float[] x = new float[64];
                    x[c] = 1f;
                    float[] out = new float[1];
                    one.matvec(t2, 0, 1, x, 0, out, 0);
                    short h = specials[c % specials.length];
                    float v = type == TensorType.F16 ? HalfFloats.f16ToF32(h) : HalfFloats.bf16ToF32(h);
                    float expected = 0f;
                    for (int i = 0; i < 64; i++) {
                        short hi = specials[i % specials.length];
                        float vi = type == TensorType.F16 ? HalfFloats.f16ToF32(hi) : HalfFloats.bf16ToF32(hi);
                        if (i != c && Float.isInfinite(vi)) expected = Float.NaN; // inf * 0
                    }
                    if (Float.isNaN(expected)) assertTrue(Float.isNaN(out[0]));
                    else assertEquals(v, out[0], 0f, type + " special " + Integer.toHexString(h & 0xFFFF));
                }
            }
        }
    }

    @Test
    void rejectsRowsOutsideTheTensor() {
        try (Arena arena = Arena.ofShared()) {
            Tensor w = TestTensors.random(TensorType.Q8_0, 4, 64, 1, arena);
            float[] x = new float[64], out = new float[8];
            assertThrows(IndexOutOfBoundsException.class, () -> one.matvec(w, 2, 3, x, 0, out, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> one.matvec(w, -1, 1, x, 0, out, 0));
            try (Kernels small = Kernels.vector(32, 1)) {
                assertThrows(IllegalArgumentException.class, () -> small.matvec(w, 0, 1, x, 0, out, 0));
            }
        }
    }

    @Test
    void otherOperationsMatchScalar() {
        Kernels ref = Kernels.scalar(16);
        float[] a = TestTensors.gaussian(1003, 1), b = TestTensors.gaussian(1003, 2);
        assertEquals(ref.dot(a, 1, b, 2, 1000), one.dot(a, 1, b, 2, 1000), 1e-3);
        float[] y1 = b.clone(), y2 = b.clone();
        ref.axpy(0.3f, a, 3, y1, 1, 999);
        one.axpy(0.3f, a, 3, y2, 1, 999);
        assertArrayEquals(y1, y2, 1e-6f);
    }

    @Test
    void vectorSupportCheckRuns() {
        String msg = VectorSupport.check();
        assertTrue(msg == null || !msg.isBlank());
        assertTrue(VectorSupport.describe().contains("bit"));
    }
}
