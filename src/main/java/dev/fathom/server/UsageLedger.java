package dev.fathom.server;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/** Tokens used per API key since the server started: what {@code GET /usage} shows and /metrics exports. */
final class UsageLedger {
    /** One key's running totals. */
    static final class Account {
        final AtomicLong requests = new AtomicLong();
        final AtomicLong hitTokens = new AtomicLong();
        final AtomicLong missTokens = new AtomicLong();
        final AtomicLong completionTokens = new AtomicLong();

        double cost(Prices p) {
            return p.cost(hitTokens.get(), missTokens.get(), completionTokens.get());
        }
    }

    private final Map<String, Account> accounts = new LinkedHashMap<>();

    UsageLedger(ApiKeys keys) {
        for (ApiKeys.Key k : keys.keys()) accounts.put(k.name(), new Account());
    }

    /** The accounts by key name, in the order the keys were given (fixed at start). */
    Map<String, Account> accounts() {
        return accounts;
    }

    /** Counts a finished generation: {@code hit} of its {@code prompt} tokens came from the context cache. */
    void record(ApiKeys.Key key, int prompt, int hit, int completion) {
        Account a = accounts.get(key.name());
        a.requests.incrementAndGet();
        a.hitTokens.addAndGet(hit);
        a.missTokens.addAndGet(prompt - hit);
        a.completionTokens.addAndGet(completion);
    }
}
