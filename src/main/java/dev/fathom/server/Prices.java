package dev.fathom.server;

import dev.fathom.FathomException;

/**
 * What tokens cost, per million: prompt tokens served from the context cache ({@code hit}), prompt tokens computed
 * ({@code miss}) and generated tokens ({@code output}).
 */
public record Prices(double hit, double miss, double output, String currency) {
    /** DeepSeek's published prices at the API's launch of V3 (CNY per million tokens). */
    public static final Prices DEEPSEEK_V3 = new Prices(0.5, 2, 8, "CNY");
    /** The same for R1, the reasoning model. */
    public static final Prices DEEPSEEK_R1 = new Prices(1, 4, 16, "CNY");

    public Prices {
        if (!(hit >= 0 && miss >= 0 && output >= 0) || Double.isInfinite(hit + miss + output)) {
            throw new FathomException("prices must be finite and >= 0, got " + hit + "," + miss + "," + output);
        }
        if (currency == null || !currency.matches("[A-Za-z]{1,8}")) throw new FathomException("a currency must be 1-8 letters, got \"" + currency + "\"");
    }

    /** The default table for a model: R1's for a reasoning model, V3's otherwise. */
    public static Prices defaultFor(boolean reasoning) {
        return reasoning ? DEEPSEEK_R1 : DEEPSEEK_V3;
    }

    /** Parses {@code HIT,MISS,OUTPUT} (per million tokens). */
    public static Prices parse(String spec, String currency) {
        String[] p = spec.split(",");
        if (p.length != 3) throw new FathomException("--price must be HIT,MISS,OUTPUT per million tokens (e.g. 0.5,2,8), got \"" + spec + "\"");
        try {
            return new Prices(Double.parseDouble(p[0].strip()), Double.parseDouble(p[1].strip()), Double.parseDouble(p[2].strip()), currency);
        } catch (NumberFormatException e) {
            throw new FathomException("--price must be three numbers HIT,MISS,OUTPUT, got \"" + spec + "\"");
        }
    }

    /** The cost of these tokens. */
    public double cost(long hitTokens, long missTokens, long outputTokens) {
        return (hitTokens * hit + missTokens * miss + outputTokens * output) / 1e6;
    }
}
