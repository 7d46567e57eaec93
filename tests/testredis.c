/*
 * testredis.c - the tests' private redis-server (see testredis.h).
 */
#include "testredis.h"

#include "testutil.h"
#include "core/fileio.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

int jc_test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

int jc_test_redis_ping(int port)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

int jc_test_redis_start(struct jc_test_redis *s)
{
    char port[16], logf[4200];
    snprintf(port, sizeof port, "%d", s->port);
    snprintf(logf, sizeof logf, "%s/redis.log", s->dir);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--daemonize",
               "no", "--pidfile", s->pidfile, "--save", "", "--appendonly", "no", "--dir", s->dir,
               "--logfile", logf, (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 100; i++) {
        if (jc_test_redis_ping(s->port))
            return 0;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        usleep(50000);
    }
    return -1;
}

void jc_test_redis_stop(struct jc_test_redis *s, int sig)
{
    FILE *f = fopen(s->pidfile, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    if (pid <= 0)
        pid = s->pid; /* killed before it wrote the file */
    if (pid > 0)
        kill((pid_t)pid, sig);
    if (s->pid > 0)
        waitpid(s->pid, NULL, 0);
    s->pid = 0;
    unlink(s->pidfile);
    for (int i = 0; i < 100 && jc_test_redis_ping(s->port); i++)
        usleep(25000);
}

int jc_test_redis_setup(struct jc_test_redis *s, int *have, const char *what)
{
    *have = system("command -v redis-server >/dev/null 2>&1") == 0;
    if (!*have) {
        printf("# SKIP: redis-server is not installed; %s are skipped\n", what);
        return 0;
    }
    s->port = jc_test_free_port();
    snprintf(s->dir, sizeof s->dir, "%s", jc_test_path("redis"));
    jc_mkdir_p(s->dir);
    snprintf(s->pidfile, sizeof s->pidfile, "%s/redis.pid", s->dir);
    if (s->port <= 0 || jc_test_redis_start(s) != 0) {
        printf("# redis-server did not start on port %d\n", s->port);
        return -1;
    }
    return 0;
}
