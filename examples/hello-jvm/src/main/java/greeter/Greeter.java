package greeter;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A small HTTP service that drains gracefully: on SIGTERM (after the pod's
 * preStop drain took it out of its Service) its readiness answers 503 and
 * every answer carries Connection: close for two seconds, so that clients
 * holding keep-alive connections move to other pods; then it stops,
 * finishing the requests in flight.
 */
public final class Greeter {
    private static final AtomicBoolean draining = new AtomicBoolean();

    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
        HttpServer server = HttpServer.create(new InetSocketAddress(port), 0);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.createContext("/actuator/health/readiness", ex ->
            answer(ex, draining.get() ? 503 : 200, draining.get() ? "draining\n" : "ok\n"));
        server.createContext("/", ex -> answer(ex, 200, "hello from greeter on Java " + Runtime.version().feature() + "\n"));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            draining.set(true);
            try {
                Thread.sleep(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            server.stop(5);
        }));
        server.start();
        System.out.println("greeter listening on :" + port + ", heap max " + Runtime.getRuntime().maxMemory() / (1 << 20) + " MiB");
    }

    private static void answer(HttpExchange ex, int code, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        if (draining.get()) {
            ex.getResponseHeaders().set("Connection", "close");
        }
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        ex.sendResponseHeaders(code, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }
}
