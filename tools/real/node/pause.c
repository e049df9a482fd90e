/* groundwork's pause: PID 1 of a pod sandbox. Sleeps until SIGTERM/SIGINT (exit 0), reaps orphaned children. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  if (getpid() != 1) { static const char m[] = "pause: warning: not PID 1\n"; (void)!write(2, m, sizeof m - 1); }
  struct sigaction q = { .sa_handler = quit }, r = { .sa_handler = reap, .sa_flags = SA_NOCLDSTOP };
  sigaction(SIGTERM, &q, NULL); sigaction(SIGINT, &q, NULL); sigaction(SIGCHLD, &r, NULL);
  for (;;) pause();
}
