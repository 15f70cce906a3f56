package dev.fathom.server;

/**
 * An error answered in OpenAI's shape: {@code {"error": {"message", "type", "param", "code"}}} with DeepSeek's
 * status codes (400 malformed request, 401 authentication, 422 invalid parameter, 429 queue full, 500 internal,
 * 503 not ready).
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(int status, String type, String param, String code, String message) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    /** 422: a field has the wrong type or is out of range; the message names the field. */
    public static ApiException invalid(String param, String message) {
        return new ApiException(422, "invalid_request_error", param, "invalid_parameter", param + ": " + message);
    }

    /** 400: the request cannot be processed as sent. */
    public static ApiException badRequest(String param, String code, String message) {
        return new ApiException(400, "invalid_request_error", param, code, message);
    }

    public int status() {
        return status;
    }

    public String type() {
        return type;
    }

    public String param() {
        return param;
    }

    public String code() {
        return code;
    }
}
