/*
 * testredis.h - a private redis-server for the tests of the Redis backends
 * (feature store, nearline worker).
 *
 * The server runs as a child of the test program (not daemonized) with
 * PR_SET_PDEATHSIG, so a test that dies (crash, timeout, kill -9) never
 * leaves a server behind; it listens on a free loopback port, keeps no data
 * on disk and is stopped through its pidfile.
 */
#ifndef JC_TESTREDIS_H
#define JC_TESTREDIS_H

#include <sys/types.h>

struct jc_test_redis {
    int port;
    pid_t pid; /* the redis-server child */
    char pidfile[4096];
    char dir[4096];
};

/* A free TCP port on 127.0.0.1, or -1. */
int jc_test_free_port(void);
/* 1 if a Redis server answers PING on 127.0.0.1:port. */
int jc_test_redis_ping(int port);
/* Starts the server on s->port with s->dir and s->pidfile; 0 once it
 * answers PING, -1 if it did not start. */
int jc_test_redis_start(struct jc_test_redis *s);
/* Sends sig to the server and waits until it is gone. */
void jc_test_redis_stop(struct jc_test_redis *s, int sig);
/* The usual group setup: 0 and *have = 0 (with a visible SKIP line naming
 * `what`) when redis-server is not installed; 0 and *have = 1 once a server
 * runs on a free port under jc_test_path("redis"); -1 if it failed to
 * start. */
int jc_test_redis_setup(struct jc_test_redis *s, int *have, const char *what);

#endif
