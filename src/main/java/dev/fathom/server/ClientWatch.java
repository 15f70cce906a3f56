package dev.fathom.server;

import io.javalin.http.Context;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Notices a client that goes away while its request is handled, and runs an action once (the server cancels the
 * generation). Jetty reads an HTTP/1.1 connection only when the application asks for request content, so once the
 * body is read a closed connection goes unnoticed until a write fails, which for a non-streaming response is at its
 * very end and for a queued stream only at the second keep-alive after the close. This watch asks the connection's
 * end point for read interest itself: end of stream or a reset means the client is gone; bytes are a pipelined next
 * request, handed back to the connection untouched (and watching stops). Jetty's own request failures (the idle
 * timeout, the server stopping) count as gone too.
 *
 * <p>Close it before the response completes: Jetty aborts a connection that still has a read pending then.
 */
final class ClientWatch implements Callback, AutoCloseable {
    private static final int READ_BYTES = 4096;
    private final EndPoint endPoint;
    private final Connection connection;
    private final Runnable onGone;
    private final AtomicBoolean fired = new AtomicBoolean();
    private boolean watching; // guarded by this

    private ClientWatch(EndPoint endPoint, Connection connection, Runnable onGone) {
        this.endPoint = endPoint;
        this.connection = connection;
        this.onGone = onGone;
    }

    /** Starts watching the client of this request; {@code onGone} runs at most once, on whatever thread notices. */
    static ClientWatch start(Context ctx, Runnable onGone) {
        Request request;
        try {
            request = ServletContextRequest.getServletContextRequest(ctx.req());
        } catch (IllegalStateException notJetty) {
            return new ClientWatch(null, null, onGone);
        }
        Connection c = request.getConnectionMetaData().getConnection();
        ClientWatch w = new ClientWatch(c.getEndPoint(), c, onGone);
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

    /** The end point is readable: end of stream, or the next request's bytes. */
    @Override
    public void succeeded() {
        boolean gone = false;
        synchronized (this) {
            if (!watching) return; // closed meanwhile: leave whatever is there to the connection
            watching = false;
            ByteBuffer buf = BufferUtil.allocate(READ_BYTES);
            try {
                int n = endPoint.fill(buf);
                if (n < 0) gone = true;
                else if (n == 0) watching = endPoint.tryFillInterested(this);
                else ((Connection.UpgradeTo) connection).onUpgradeTo(buf); // back in the connection's buffer, to be parsed next
            } catch (IOException e) {
                gone = true;
            }
        }
        if (gone) gone();
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
        if (!watching) return;
        watching = false;
        // While the handler runs, nothing else reads the connection: the pending read interest is this one.
        ((AbstractEndPoint) endPoint).getFillInterest().onFail(new CancellationException("the response is complete"));
    }
}
