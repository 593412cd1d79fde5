/*
 * Holds a file open across a change made by another client, for the kernel-client cache-coherence checks.
 *
 *   holdfile read FILE BEFORE AFTER   read FILE whole into BEFORE (the kernel may now cache it), create
 *                                     BEFORE.ready, wait for SIGUSR1, read it again from offset 0 through the
 *                                     same descriptor into AFTER
 *   holdfile write FILE DATA          write DATA's bytes over FILE from offset 0 (no fsync: a client holding a
 *                                     write lease may keep them cached), create DATA.ready, wait for SIGUSR1,
 *                                     then close
 *
 * Prints "error WHAT ERRNO" and exits 2 on failure. Built with gcc -static on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(const char *what) {
  printf("error %s %s\n", what, strerror(errno));
  fflush(stdout);
  return 2;
}

/* Copy everything readable from `in` (starting at `offset`) to `out`. */
static int copy_from(int in, off_t offset, int out) {
  char buf[65536];
  for (;;) {
    ssize_t n = pread(in, buf, sizeof buf, offset);
    if (n < 0) return -1;
    if (n == 0) return 0;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buf + done, (size_t)(n - done));
      if (w < 0) return -1;
      done += w;
    }
    offset += n;
  }
}

static int mark_ready(const char *base) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s.ready", base) >= (int)sizeof path) return -1;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return -1;
  return close(fd);
}

int main(int argc, char **argv) {
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);
  int sig;

  if (argc == 5 && strcmp(argv[1], "read") == 0) {
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) return fail("open");
    int before = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int after = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (before < 0 || after < 0) return fail("open-out");
    if (copy_from(fd, 0, before) != 0) return fail("read-before");
    close(before);
    if (mark_ready(argv[3]) != 0) return fail("ready");
    sigwait(&usr1, &sig);
    if (copy_from(fd, 0, after) != 0) return fail("read-after");
    close(after);
    close(fd);
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "write") == 0) {
    int fd = open(argv[2], O_WRONLY);
    if (fd < 0) return fail("open");
    int data = open(argv[3], O_RDONLY);
    if (data < 0) return fail("open-data");
    char buf[65536];
    off_t off = 0;
    for (;;) {
      ssize_t n = read(data, buf, sizeof buf);
      if (n < 0) return fail("read-data");
      if (n == 0) break;
      if (pwrite(fd, buf, (size_t)n, off) != n) return fail("write");
      off += n;
    }
    close(data);
    if (mark_ready(argv[3]) != 0) return fail("ready");
    sigwait(&usr1, &sig);
    if (close(fd) != 0) return fail("close");
    return 0;
  }
  fprintf(stderr, "usage: holdfile read FILE BEFORE AFTER | holdfile write FILE DATA\n");
  return 2;
}
