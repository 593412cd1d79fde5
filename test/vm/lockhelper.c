/*
 * fcntl byte-range locks for the kernel-client VM test (busybox has no flock/fcntl applet).
 *
 *   lockhelper hold FILE START LEN   take a write lock (F_SETLK), print "locked", wait for SIGUSR1,
 *                                    release it (F_UNLCK), print "released"; exit 0
 *   lockhelper try FILE START LEN    one F_SETLK write-lock attempt: prints "acquired" (exit 0),
 *                                    "busy ERRNO" when another owner holds the range (exit 1)
 *
 * Any other failure prints "error WHAT ERRNO" and exits 2. Built with gcc -static on the host.
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

static int set_lock(int fd, short type, off_t start, off_t len) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return fcntl(fd, F_SETLK, &fl);
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: lockhelper hold|try FILE START LEN\n");
    return 2;
  }
  off_t start = (off_t)strtoll(argv[3], NULL, 10);
  off_t len = (off_t)strtoll(argv[4], NULL, 10);

  /* Block SIGUSR1 before anything can send it, so sigwait below cannot miss it. */
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, NULL);

  int fd = open(argv[2], O_RDWR);
  if (fd < 0) return fail("open");

  if (strcmp(argv[1], "try") == 0) {
    if (set_lock(fd, F_WRLCK, start, len) == 0) {
      printf("acquired\n");
      return 0;
    }
    if (errno == EACCES || errno == EAGAIN) {
      printf("busy %s\n", strerror(errno));
      return 1;
    }
    return fail("setlk");
  }
  if (strcmp(argv[1], "hold") != 0) return fail("mode");

  if (set_lock(fd, F_WRLCK, start, len) != 0) return fail("setlk");
  printf("locked\n");
  fflush(stdout);
  int sig;
  sigwait(&usr1, &sig);
  if (set_lock(fd, F_UNLCK, start, len) != 0) return fail("unlock");
  printf("released\n");
  fflush(stdout);
  close(fd);
  return 0;
}
