/*
 * test_event.c - the event model (JSON, binary encoding, validation) and the
 * CRC32C of the log records (known vectors, hardware == software).
 */
#include "testutil.h"

#include "core/buf.h"
#include "core/rng.h"
#include "stream/crc32c.h"
#include <junco/error.h>
#include <junco/event.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static char scratch[JC_EVENT_SCRATCH];

static int parse(const char *json, struct jc_event *ev, const struct jc_event_types *t)
{
    return jc_event_parse_json(json, strlen(json), t, 1234567, ev, scratch);
}

static void expect_error(const char *json, int code, const char *msg)
{
    struct jc_event ev;
    struct jc_event_types t;
    assert_int_equal(jc_event_types_parse(&t, "add_to_cart"), JC_OK);
    int rc = parse(json, &ev, &t);
    if (rc != code || strstr(jc_errmsg(), msg) == NULL)
        fail_msg("%s: got %d '%s', want %d '%s'", json, rc, jc_errmsg(), code, msg);
}

static void test_types(void **state)
{
    (void)state;
    struct jc_event_types t;
    assert_int_equal(jc_event_types_parse(&t, ""), JC_OK);
    assert_int_equal(t.n, 0);
    assert_int_equal(jc_event_types_parse(&t, " add_to_cart, share ,"), JC_OK);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.names[1], "share");
    uint8_t code;
    assert_true(jc_event_type_lookup(&t, "share", 5, &code));
    assert_int_equal(code, JC_EVENT_CUSTOM);
    assert_true(jc_event_type_lookup(&t, "exposure", 8, &code));
    assert_int_equal(code, JC_EV_IMPRESSION);
    assert_true(jc_event_type_lookup(NULL, "purchase", 8, &code));
    assert_int_equal(code, JC_EV_PURCHASE);
    assert_false(jc_event_type_lookup(&t, "shar", 4, &code));
    assert_int_equal(jc_event_types_parse(&t, "click"), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "'click' is a built-in type"));
    assert_int_equal(jc_event_types_parse(&t, "a,a"), JC_EINVAL);
    assert_non_null(strstr(jc_errmsg(), "listed twice"));
    assert_int_equal(jc_event_types_parse(&t, "Add"), JC_EINVAL);
    assert_int_equal(jc_event_types_parse(&t, "a,,b"), JC_EINVAL);
    char many[400];
    size_t at = 0;
    for (int i = 0; i < 33; i++)
        at += (size_t)snprintf(many + at, sizeof many - at, "%st%d", i ? "," : "", i);
    assert_int_equal(jc_event_types_parse(&t, many), JC_ELIMIT);
}

static void test_parse_full(void **state)
{
    (void)state;
    struct jc_event_types t;
    assert_int_equal(jc_event_types_parse(&t, "add_to_cart"), JC_OK);
    struct jc_event ev;
    const char *js = "{\"user\":\"u1\",\"item\":296,\"type\":\"add_to_cart\",\"value\":4.5,"
                     "\"time\":964982703.25,\"request_id\":\"r-9\",\"experiment\":\"home\","
                     "\"variant\":\"B\",\"context\":{\"device\":\"ios\",\"pos\":3}}";
    assert_int_equal(parse(js, &ev, &t), JC_OK);
    assert_int_equal(ev.user_len, 2);
    assert_memory_equal(ev.user, "u1", 2);
    assert_int_equal(ev.item_len, 3);
    assert_memory_equal(ev.item, "296", 3);
    assert_int_equal(ev.type, JC_EVENT_CUSTOM);
    size_t tn;
    const char *ts = jc_event_type_str(&ev, &tn);
    assert_int_equal(tn, 11);
    assert_memory_equal(ts, "add_to_cart", 11);
    assert_true(ev.value == 4.5f);
    assert_int_equal(ev.time_ms, 964982703250LL);
    assert_memory_equal(ev.request_id, "r-9", 3);
    assert_memory_equal(ev.experiment, "home", 4);
    assert_memory_equal(ev.variant, "B", 1);
    assert_int_equal(ev.context_len, strlen("{\"device\":\"ios\",\"pos\":3}"));
    assert_memory_equal(ev.context, "{\"device\":\"ios\",\"pos\":3}", ev.context_len);

    /* Defaults: value 1, time = now; time forms. */
    assert_int_equal(parse("{\"user\":\"a\",\"item\":\"b\",\"type\":\"view\"}", &ev, &t), JC_OK);
    assert_true(ev.value == 1.0f);
    assert_int_equal(ev.time_ms, 1234567);
    assert_int_equal(ev.type, JC_EV_VIEW);
    assert_int_equal(parse("{\"user\":\"a\",\"item\":\"b\",\"type\":\"exposure\",\"time\":"
                           "\"2000-07-30 18:45:03\"}",
                           &ev, &t),
                     JC_OK);
    assert_int_equal(ev.time_ms, 964982703000LL);
    assert_int_equal(ev.type, JC_EV_IMPRESSION);
    assert_int_equal(
        parse("{\"user\":\"a\",\"item\":\"b\",\"type\":\"click\",\"time_ms\":17}", &ev, &t), JC_OK);
    assert_int_equal(ev.time_ms, 17);
}

static void test_validation_errors(void **state)
{
    (void)state;
    expect_error("not json", JC_EPARSE, "not valid JSON");
    expect_error("[1,2]", JC_EPARSE, "expected a JSON object");
    expect_error("{\"item\":\"1\",\"type\":\"click\"}", JC_EINVAL, "user: missing or empty");
    expect_error("{\"user\":\"\",\"item\":\"1\",\"type\":\"click\"}", JC_EINVAL,
                 "user: missing or empty");
    expect_error("{\"user\":\"u\",\"type\":\"click\"}", JC_EINVAL, "item: missing or empty");
    expect_error("{\"user\":\"u\",\"item\":\"1\"}", JC_EINVAL, "type: missing");
    expect_error("{\"user\":\"u\",\"item\":\"1\",\"type\":\"share\"}", JC_EINVAL,
                 "type: 'share' is not a known type");
    expect_error("{\"user\":\"u\",\"item\":\"1\",\"type\":\"click\",\"value\":\"x\"}", JC_EINVAL,
                 "value: expected a number");
    expect_error("{\"user\":\"u\",\"item\":\"1\",\"type\":\"click\",\"value\":1e300}", JC_EINVAL,
                 "value: 1e+300 does not fit a float");
    expect_error("{\"user\":\"u\",\"item\":\"1\",\"type\":\"click\",\"time\":\"yesterday\"}",
                 JC_EINVAL, "time: 'yesterday' is not a timestamp");
    expect_error("{\"user\":\"u\",\"item\":\"1\",\"type\":\"click\",\"time_ms\":-5}", JC_EINVAL,
                 "time_ms: expected a non-negative integer");
    expect_error("{\"user\":\"u\",\"item\":\"1\",\"type\":\"click\",\"colour\":1}", JC_EINVAL,
                 "colour: unknown field");
    expect_error("{\"user\":\"u\",\"item\":\"1\",\"type\":\"click\",\"variant\":\"B\"}", JC_EINVAL,
                 "variant: given without an experiment");
    expect_error("{\"user\":\"u\",\"item\":\"1\",\"type\":\"click\",\"context\":[1]}", JC_EINVAL,
                 "context: expected a JSON object");
    expect_error("{\"user\":\"u\\u0001\",\"item\":\"1\",\"type\":\"click\"}", JC_EINVAL,
                 "user: contains a control character");
    expect_error("{\"user\":1.5,\"item\":\"1\",\"type\":\"click\"}", JC_EINVAL,
                 "user: a number id must be an integer");
    expect_error("{\"user\":\"u\",\"item\":true,\"type\":\"click\"}", JC_EINVAL,
                 "item: expected a string");
    char big[400];
    memset(big, 'x', 300);
    big[300] = '\0';
    char js[600];
    snprintf(js, sizeof js, "{\"user\":\"%s\",\"item\":\"1\",\"type\":\"click\"}", big);
    expect_error(js, JC_EINVAL, "user: 300 bytes, the limit is 255");

    /* Validation of a hand-built event: invalid UTF-8 and NaN. */
    struct jc_event ev;
    jc_event_init(&ev);
    ev.user = "\xff";
    ev.user_len = 1;
    ev.item = "i";
    ev.item_len = 1;
    assert_int_equal(jc_event_validate(&ev, NULL), JC_EINVAL);
    assert_string_equal(jc_errmsg(), "user: not valid UTF-8 (byte 0)");
    ev.user = "u";
    ev.value = NAN;
    assert_int_equal(jc_event_validate(&ev, NULL), JC_EINVAL);
    assert_string_equal(jc_errmsg(), "value: not a finite number");
    ev.value = 1;
    ev.context = "[1]";
    ev.context_len = 3;
    assert_int_equal(jc_event_validate(&ev, NULL), JC_EINVAL);
    assert_string_equal(jc_errmsg(), "context: not a JSON object");
}

/* The exact bytes of a known event (the format is a contract). */
static void test_binary_golden(void **state)
{
    (void)state;
    struct jc_event ev;
    jc_event_init(&ev);
    ev.user = "u7";
    ev.user_len = 2;
    ev.item = "42";
    ev.item_len = 2;
    ev.type = JC_EV_RATING;
    ev.value = 4.5f;
    ev.time_ms = 964982703000LL;
    ev.experiment = "e";
    ev.experiment_len = 1;
    ev.variant = "B";
    ev.variant_len = 1;
    unsigned char out[64];
    size_t len;
    assert_int_equal(jc_event_encode(&ev, out, sizeof out, &len), JC_OK);
    const unsigned char want[] = {1,    0,    2,    2,    0,    1,    1,    0,    0,
                                  0,    0x98, 0x83, 0x73, 0xAD, 0xE0, 0x00, 0x00, 0x00, /* time */
                                  0x00, 0x00, 0x90, 0x40,                               /* 4.5f */
                                  'u',  '7',  '4',  '2',  'e',  'B'};
    assert_int_equal(len, sizeof want);
    assert_int_equal(jc_event_bin_size(&ev), sizeof want);
    assert_memory_equal(out, want, sizeof want);
    assert_int_equal(jc_event_encode(&ev, out, len - 1, &len), JC_ELIMIT);
    /* What cannot be decoded is not encoded either. */
    ev.item_len = 0;
    assert_int_equal(jc_event_encode(&ev, out, sizeof out, &len), JC_EINVAL);
    assert_string_equal(jc_errmsg(), "item: missing or empty");
    ev.item_len = 2;
    ev.type = JC_EVENT_CUSTOM;
    assert_int_equal(jc_event_encode(&ev, out, sizeof out, &len), JC_EINVAL);
    ev.type = 9;
    assert_int_equal(jc_event_encode(&ev, out, sizeof out, &len), JC_EINVAL);
}

/* bin -> JSON -> bin is byte-exact, for events with every field and with
 * random contents. (Contexts are given in cJSON's compact form, which is
 * what jc_event_parse_json stores.) */
static void test_round_trips(void **state)
{
    (void)state;
    struct jc_event_types t;
    assert_int_equal(jc_event_types_parse(&t, "add_to_cart"), JC_OK);
    struct jc_rng rng;
    jc_rng_seed(&rng, 42);
    struct jc_buf js;
    jc_buf_init(&js, 1 << 20);
    static const char *const ctxs[] = {"", "{\"a\":1}", "{\"device\":\"ios\",\"n\":[1,2.5]}",
                                       "{\"q\":\"\xc3\xa9\\\"x\"}"};
    for (int iter = 0; iter < 500; iter++) {
        char user[40], item[40], req[40];
        int un = snprintf(user, sizeof user, "user-%llu",
                          (unsigned long long)jc_rng_below(&rng, 100000));
        int in = snprintf(item, sizeof item, "%llu", (unsigned long long)jc_rng_below(&rng, 1e9));
        int rn = snprintf(req, sizeof req, "r%llu", (unsigned long long)jc_rng_u64(&rng));
        struct jc_event ev;
        jc_event_init(&ev);
        ev.user = user;
        ev.user_len = (size_t)un;
        ev.item = item;
        ev.item_len = (size_t)in;
        uint64_t ty = jc_rng_below(&rng, JC_EV__BUILTIN_COUNT + 1);
        if (ty == JC_EV__BUILTIN_COUNT) {
            ev.type = JC_EVENT_CUSTOM;
            ev.type_name = "add_to_cart";
            ev.type_name_len = 11;
        } else {
            ev.type = (uint8_t)ty;
        }
        /* Random finite floats, including awkward ones. */
        uint32_t bits;
        do {
            bits = jc_rng_u32(&rng);
            memcpy(&ev.value, &bits, 4);
        } while (!isfinite(ev.value));
        if (iter % 3 == 0)
            ev.value = (float)jc_rng_below(&rng, 10) / 2.0f;
        ev.time_ms = (int64_t)jc_rng_below(&rng, (uint64_t)1 << 45);
        if (iter % 2) {
            ev.request_id = req;
            ev.request_id_len = (size_t)rn;
            ev.experiment = "exp";
            ev.experiment_len = 3;
            ev.variant = "treat";
            ev.variant_len = 5;
        }
        const char *c = ctxs[iter % 4];
        ev.context = c[0] ? c : NULL;
        ev.context_len = strlen(c);
        assert_int_equal(jc_event_validate(&ev, &t), JC_OK);
        unsigned char bin1[JC_EVENT_MAX_BIN], bin2[JC_EVENT_MAX_BIN];
        size_t n1, n2;
        assert_int_equal(jc_event_encode(&ev, bin1, sizeof bin1, &n1), JC_OK);
        struct jc_event d;
        assert_int_equal(jc_event_decode(bin1, n1, &d), JC_OK);
        jc_buf_reset(&js);
        assert_int_equal(jc_event_write_json(&d, &js), JC_OK);
        struct jc_event p;
        if (jc_event_parse_json(js.data, js.len, &t, 0, &p, scratch) != JC_OK)
            fail_msg("%s: %s", js.data, jc_errmsg());
        assert_int_equal(jc_event_encode(&p, bin2, sizeof bin2, &n2), JC_OK);
        assert_int_equal(n1, n2);
        assert_memory_equal(bin1, bin2, n1);
        /* And JSON -> bin -> JSON is stable too. */
        struct jc_buf js2;
        jc_buf_init(&js2, 1 << 20);
        assert_int_equal(jc_event_write_json(&p, &js2), JC_OK);
        assert_int_equal(js.len, js2.len);
        assert_memory_equal(js.data, js2.data, js.len);
        jc_buf_free(&js2);
    }
    jc_buf_free(&js);
}

static void test_decode_rejects(void **state)
{
    (void)state;
    struct jc_event ev, d;
    jc_event_init(&ev);
    ev.user = "u";
    ev.user_len = 1;
    ev.item = "i";
    ev.item_len = 1;
    ev.context = "{}";
    ev.context_len = 2;
    unsigned char b[64];
    size_t n;
    assert_int_equal(jc_event_encode(&ev, b, sizeof b, &n), JC_OK);
    assert_int_equal(jc_event_decode(b, n, &d), JC_OK);
    assert_int_equal(jc_event_decode(b, n - 1, &d), JC_ECORRUPT);
    assert_non_null(strstr(jc_errmsg(), "its fields say"));
    assert_int_equal(jc_event_decode(b, 10, &d), JC_ECORRUPT);
    b[0] = 2;
    assert_int_equal(jc_event_decode(b, n, &d), JC_EVERSION);
    assert_string_equal(jc_errmsg(), "event record version 2 (this build reads 1)");
    b[0] = 1;
    b[1] = 77;
    assert_int_equal(jc_event_decode(b, n, &d), JC_ECORRUPT);
    b[1] = JC_EVENT_CUSTOM; /* custom without a name */
    assert_int_equal(jc_event_decode(b, n, &d), JC_ECORRUPT);
}

static void test_crc32c_vectors(void **state)
{
    (void)state;
    /* RFC 3720 B.4 and the common check value. */
    unsigned char buf[32];
    assert_int_equal(jc_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(jc_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    memset(buf, 0, 32);
    assert_int_equal(jc_crc32c_sw(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, 32);
    assert_int_equal(jc_crc32c_sw(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    assert_int_equal(jc_crc32c_sw(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    assert_int_equal(jc_crc32c_sw(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(jc_crc32c(0, buf, 32), 0x113FDB5Cu);
    assert_int_equal(jc_crc32c(0, "", 0), 0);
    /* Continuation: crc(a||b) == crc(crc(a), b). */
    assert_int_equal(jc_crc32c(jc_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void test_crc32c_hw_matches_sw(void **state)
{
    (void)state;
    if (!jc_crc32c_hw_available()) {
        print_message("no SSE4.2 on this CPU: hardware path not tested\n");
        skip();
    }
    struct jc_rng rng;
    jc_rng_seed(&rng, 7);
    static unsigned char buf[70000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)jc_rng_u32(&rng);
    assert_int_equal(jc_crc32c_hw(0, "123456789", 9), 0xE3069283u);
    for (int iter = 0; iter < 2000; iter++) {
        size_t off = jc_rng_below(&rng, 64);
        size_t len = jc_rng_below(&rng, iter < 1000 ? 64 : sizeof buf - 64);
        uint32_t seed = jc_rng_u32(&rng);
        uint32_t a = jc_crc32c_hw(seed, buf + off, len), b = jc_crc32c_sw(seed, buf + off, len);
        if (a != b)
            fail_msg("hw %08x != sw %08x (off %zu len %zu)", a, b, off, len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_binary_golden),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_hw_matches_sw),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
