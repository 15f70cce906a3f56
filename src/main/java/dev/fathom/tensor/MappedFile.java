package dev.fathom.tensor;

import dev.fathom.FathomException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** A whole file mapped read-only through the FFM API (any size); closing unmaps it. Model files' tensors are views into it. */
public record MappedFile(Arena arena, MemorySegment segment) implements AutoCloseable {

    /** Maps {@code path}; a missing file is a {@link FathomException} naming it. */
    public static MappedFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            return new MappedFile(arena, size == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena));
        } catch (NoSuchFileException e) {
            arena.close();
            throw new FathomException(path + ": no such file");
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
