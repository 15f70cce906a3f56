package dev.fathom.server;

import io.javalin.http.Context;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Notices a client that goes away while its request is handled, and runs an action once (the server cancels the
 * generation). Jetty reads an HTTP/1.1 connection only when the application asks for request content, so once the
 * body is read a closed connection goes unnoticed until a write fails, which for a non-streaming response is at its
 * very end and for a queued stream only at the second keep-alive after the close. This watch asks the connection's
 * end point for read interest itself: a reset means the client is gone; bytes are a pipelined next request, handed
 * back to the connection untouched (and watching stops). End of stream is not proof: HTTP/1.1 lets a client shut down
 * its write side after its request and still read the answer. So end of stream starts a probe: {@value #PROBES}
 * small writes {@value #PROBE_GAP_MILLIS} ms apart (a closed socket answers the first with a reset, so a later one
 * fails); a failure means gone, success means a half-closed client that is still reading. Jetty's own request
 * failures (the idle timeout, the server stopping) count as gone too.
 *
 * <p>Close it before the response completes: Jetty aborts a connection that still has a read pending then.
 */
final class ClientWatch implements Callback, AutoCloseable {
    private static final int READ_BYTES = 4096;
    static final int PROBES = 3;
    static final long PROBE_GAP_MILLIS = 50;
    private final EndPoint endPoint;
    private final Connection connection;
    private final Probe probe;
    private final Runnable onGone;
    private final AtomicBoolean fired = new AtomicBoolean();
    private boolean watching; // guarded by this
    private boolean closed; // guarded by this

    /** Writes something harmless to the client (an interim response, an event-stream comment); throws when it cannot. */
    interface Probe {
        void write() throws IOException;
    }

    private ClientWatch(EndPoint endPoint, Connection connection, Probe probe, Runnable onGone) {
        this.endPoint = endPoint;
        this.connection = connection;
        this.probe = probe;
        this.onGone = onGone;
    }

    /**
     * Starts watching the client of this request; {@code onGone} runs at most once, on whatever thread notices.
     * {@code probe} runs only while the watch is open and never at the same time as {@link #close}.
     */
    static ClientWatch start(Context ctx, Probe probe, Runnable onGone) {
        Request request;
        try {
            request = ServletContextRequest.getServletContextRequest(ctx.req());
        } catch (IllegalStateException notJetty) {
            return new ClientWatch(null, null, probe, onGone);
        }
        Connection c = request.getConnectionMetaData().getConnection();
        ClientWatch w = new ClientWatch(c.getEndPoint(), c, probe, onGone);
        request.addFailureListener(x -> w.gone());
        // HTTP/1.1 only: other protocols read their connection all the time and report a reset as a failure.
        boolean http1 = request.getConnectionMetaData().getHttpVersion().getVersion() < 20;
        if (http1 && c instanceof Connection.UpgradeTo && w.endPoint instanceof AbstractEndPoint) {
            synchronized (w) {
                w.watching = true; // before registering, should the end point call back at once
                if (!w.endPoint.tryFillInterested(w)) w.watching = false;
            }
        }
        return w;
    }

    /** Sends an interim (1xx) response, which HTTP/1.1 clients must skip; throws when the connection is gone. */
    static void interim(Context ctx, int status) throws IOException {
        try {
            ServletContextRequest.getServletContextRequest(ctx.req()).getServletContextResponse().writeInterim(status, HttpFields.EMPTY).get();
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        }
    }

    /** The end point is readable: end of stream, or the next request's bytes. */
    @Override
    public void succeeded() {
        boolean gone = false, ended = false;
        synchronized (this) {
            if (!watching) return; // closed meanwhile: leave whatever is there to the connection
            watching = false;
            ByteBuffer buf = BufferUtil.allocate(READ_BYTES);
            try {
                int n = endPoint.fill(buf);
                if (n < 0) ended = true;
                else if (n == 0) watching = endPoint.tryFillInterested(this);
                else ((Connection.UpgradeTo) connection).onUpgradeTo(buf); // back in the connection's buffer, to be parsed next
            } catch (IOException e) {
                gone = true;
            }
        }
        if (gone) gone();
        if (ended) Thread.ofVirtual().name("fathom-probe").start(this::probe);
    }

    /** After end of stream: closed, or only half-closed? Writes tell (see the class comment). */
    private void probe() {
        try {
            for (int i = 0; i < PROBES; i++) {
                if (i > 0) Thread.sleep(PROBE_GAP_MILLIS);
                synchronized (this) {
                    if (closed) return;
                    probe.write();
                }
            }
        } catch (IOException e) {
            gone();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The read interest failed: the end point was closed or failed. */
    @Override
    public void failed(Throwable x) {
        synchronized (this) {
            if (!watching) return; // our own close()
            watching = false;
        }
        gone();
    }

    private void gone() {
        if (fired.compareAndSet(false, true)) onGone.run();
    }

    /** Stops watching (the read interest is withdrawn) so that the response can complete. */
    @Override
    public synchronized void close() {
        closed = true;
        if (!watching) return;
        watching = false;
        // While the handler runs, nothing else reads the connection: the pending read interest is this one.
        ((AbstractEndPoint) endPoint).getFillInterest().onFail(new CancellationException("the response is complete"));
    }
}
