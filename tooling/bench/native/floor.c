/*
 * The physical floor of the bench's floor section: the same system calls the
 * shm packages make, in a C loop, with nothing else. Compiled when the bench
 * runs (floor.ts). See shm_open(3), shm_unlink(3), ftruncate(2), mmap(2),
 * munmap(2), shmget(2), shmat(2), shmdt(2), shmctl(2), futex(2), open(2)
 * (O_TMPFILE), linkat(2), sigaction(2).
 *
 *   floor cycles <case> <name|key> <bytes> <warm-up> <count>
 *       case: posix-create-destroy | sysv-create-destroy |
 *             posix-get-detach | sysv-get-detach (the object must exist),
 *             or any of them with -same-calls: the system calls the
 *             packages make in that cycle (strace), their guarantees'
 *             included: a POSIX object made whole before it is named
 *             (open(O_TMPFILE) + linkat), the fault guard's check that its
 *             handler is still installed (sigaction), and the placeholder
 *             that holds a detached range (mmap(MAP_FIXED)); the
 *             placeholder's munmap, which the packages make once the
 *             buffer's finalizers have run (after the timed loop), is left
 *             out on both sides.
 *   floor pingpong <warm-up> <count>
 *       round trips with a forked child over two futex words
 *
 * Prints the mean nanoseconds of one timed cycle (or round trip).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what) {
  perror(what);
  exit(1);
}

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* shm_open + ftruncate + mmap + close, then munmap + shm_unlink. */
static void posix_create_destroy(const char *name, size_t bytes) {
  int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd == -1) fail("shm_open");
  if (ftruncate(fd, (off_t)bytes) == -1) fail("ftruncate");
  void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) fail("mmap");
  close(fd);
  munmap(base, bytes);
  if (shm_unlink(name) == -1) fail("shm_unlink");
}

/* shm_open + fstat + mmap + close, then munmap. */
static void posix_get_detach(const char *name) {
  int fd = shm_open(name, O_RDWR, 0);
  if (fd == -1) fail("shm_open");
  struct stat status;
  if (fstat(fd, &status) == -1) fail("fstat");
  void *base = mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) fail("mmap");
  close(fd);
  munmap(base, (size_t)status.st_size);
}

/* What the packages put where a detached mapping was (mapping.h). */
static void placeholder(void *base, size_t bytes) {
  int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED;
  if (mmap(base, bytes, PROT_READ | PROT_WRITE, flags, -1, 0) == MAP_FAILED) fail("mmap placeholder");
}

/* The fault guard asks whether its handler is still the one installed. */
static void guard_check(void) {
  struct sigaction current;
  sigaction(SIGBUS, NULL, &current);
}

/* As ours: linkat(AT_EMPTY_PATH) until it is refused once, then /proc's path. */
static int empty_path_works = 1;

static void posix_create_destroy_same_calls(const char *name, size_t bytes) {
  char path[300];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  /* Ours looks for a taken name first when a create is costly (1 MiB or more). */
  struct stat existing;
  if (bytes >= ((size_t)1 << 20) && fstatat(AT_FDCWD, path, &existing, AT_SYMLINK_NOFOLLOW) == 0) fail("name taken");
  int fd = open("/dev/shm", O_RDWR | O_CLOEXEC | O_TMPFILE, 0600);
  if (fd == -1) fail("open O_TMPFILE");
  if (ftruncate(fd, (off_t)bytes) == -1) fail("ftruncate");
  void *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) fail("mmap");
  guard_check();
  if (!empty_path_works || linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) == -1) {
    empty_path_works = 0;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == -1) fail("linkat");
  }
  close(fd);
  placeholder(base, bytes);
  if (unlink(path) == -1) fail("unlink");
}

static void posix_get_detach_same_calls(const char *name) {
  char path[300];
  snprintf(path, sizeof path, "/dev/shm%s", name);
  int fd = open(path, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1) fail("open");
  struct stat status;
  if (fstat(fd, &status) == -1) fail("fstat");
  void *base = mmap(NULL, (size_t)status.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) fail("mmap");
  close(fd);
  guard_check();
  placeholder(base, (size_t)status.st_size);
}

/* The end of a System V attachment: shmdt for the floor; for ours, the
 * placeholder, then IPC_STAT (on destroy: the shmid still holds the key; on
 * detach: whether the attach count says the segment is to go). */
static void sysv_end(int id, void *base, size_t bytes, int same_calls) {
  if (!same_calls) {
    shmdt(base);
    return;
  }
  placeholder(base, bytes);
  struct shmid_ds status;
  if (shmctl(id, IPC_STAT, &status) == -1) fail("shmctl");
}

/* shmget + shmat, then the end of the attachment + shmctl(IPC_RMID). */
static void sysv_create_destroy(key_t key, size_t bytes, int same_calls) {
  int id = shmget(key, bytes, IPC_CREAT | IPC_EXCL | 0600);
  if (id == -1) fail("shmget");
  void *base = shmat(id, NULL, 0);
  if (base == (void *)-1) fail("shmat");
  sysv_end(id, base, bytes, same_calls);
  if (shmctl(id, IPC_RMID, NULL) == -1) fail("shmctl");
}

/* shmget + shmctl(IPC_STAT) + shmat, then the end of the attachment. */
static void sysv_get_detach(key_t key, int same_calls) {
  int id = shmget(key, 0, 0600);
  if (id == -1) fail("shmget");
  struct shmid_ds status;
  if (shmctl(id, IPC_STAT, &status) == -1) fail("shmctl");
  void *base = shmat(id, NULL, 0);
  if (base == (void *)-1) fail("shmat");
  sysv_end(id, base, status.shm_segsz, same_calls);
}

static void cycle(const char *which, const char *target, size_t bytes) {
  if (strcmp(which, "posix-create-destroy") == 0) posix_create_destroy(target, bytes);
  else if (strcmp(which, "posix-get-detach") == 0) posix_get_detach(target);
  else if (strcmp(which, "sysv-create-destroy") == 0) sysv_create_destroy((key_t)strtoul(target, NULL, 10), bytes, 0);
  else if (strcmp(which, "sysv-get-detach") == 0) sysv_get_detach((key_t)strtoul(target, NULL, 10), 0);
  else if (strcmp(which, "posix-create-destroy-same-calls") == 0) posix_create_destroy_same_calls(target, bytes);
  else if (strcmp(which, "posix-get-detach-same-calls") == 0) posix_get_detach_same_calls(target);
  else if (strcmp(which, "sysv-create-destroy-same-calls") == 0) sysv_create_destroy((key_t)strtoul(target, NULL, 10), bytes, 1);
  else if (strcmp(which, "sysv-get-detach-same-calls") == 0) sysv_get_detach((key_t)strtoul(target, NULL, 10), 1);
  else {
    fprintf(stderr, "unknown case %s\n", which);
    exit(2);
  }
}

static long futex(int *word, int op, int value) {
  return syscall(SYS_futex, word, op, value, NULL, NULL, 0);
}

/* The parent stores n in ping and wakes; the child copies it to pong and wakes. */
static void pingpong(long warm, long count) {
  int *words = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (words == MAP_FAILED) fail("mmap");
  int *ping = &words[0], *pong = &words[16];
  pid_t child = fork();
  if (child == -1) fail("fork");
  if (child == 0) {
    for (int seen = 0;;) {
      int value;
      while ((value = __atomic_load_n(ping, __ATOMIC_ACQUIRE)) == seen) futex(ping, FUTEX_WAIT, seen);
      if (value < 0) _exit(0);
      seen = value;
      __atomic_store_n(pong, value, __ATOMIC_RELEASE);
      futex(pong, FUTEX_WAKE, 1);
    }
  }
  int64_t started = 0;
  for (long n = 1; n <= warm + count; n++) {
    if (n == warm + 1) started = now_ns();
    __atomic_store_n(ping, (int)n, __ATOMIC_RELEASE);
    futex(ping, FUTEX_WAKE, 1);
    int value;
    while ((value = __atomic_load_n(pong, __ATOMIC_ACQUIRE)) != (int)n) futex(pong, FUTEX_WAIT, value);
  }
  int64_t elapsed = now_ns() - started;
  __atomic_store_n(ping, -1, __ATOMIC_RELEASE);
  futex(ping, FUTEX_WAKE, 1);
  waitpid(child, NULL, 0);
  printf("%.1f\n", (double)elapsed / (double)count);
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "pingpong") == 0) {
    pingpong(atol(argv[2]), atol(argv[3]));
    return 0;
  }
  if (argc != 7 || strcmp(argv[1], "cycles") != 0) {
    fprintf(stderr, "usage: floor cycles <case> <name|key> <bytes> <warm-up> <count> | floor pingpong <warm-up> <count>\n");
    return 2;
  }
  const char *which = argv[2], *target = argv[3];
  size_t bytes = strtoull(argv[4], NULL, 10);
  long warm = atol(argv[5]), count = atol(argv[6]);
  for (long n = 0; n < warm; n++) cycle(which, target, bytes);
  int64_t started = now_ns();
  for (long n = 0; n < count; n++) cycle(which, target, bytes);
  printf("%.1f\n", (double)(now_ns() - started) / (double)count);
  return 0;
}
