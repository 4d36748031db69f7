/* progress.c — what `ganc train` shows on standard error while it trains. */
#include <stdio.h>

#include "cli.h"

void progress_show(const ganc_progress *p, void *ctx)
{
  Progress *pr = ctx;
  double rate = p->seconds > 0 ? (double)p->step / p->seconds : 0;
  if (pr->tty) { /* one line redrawn in place, with the rate and the time left */
    if (p->seconds - pr->last_print < 0.2 && !p->final)
      return;
    pr->last_print = p->seconds;
    double eta = rate > 0 ? (double)(p->steps - p->step) / rate : 0;
    fprintf(stderr, "\r  step %lld/%lld  d_loss %.4f  g_loss %.4f  %.0f steps/s  ETA %d:%02d  ", (long long)p->step,
            (long long)p->steps, p->d_loss, p->g_loss, rate, (int)eta / 60, (int)eta % 60);
    if (p->final)
      fputc('\n', stderr);
    return;
  }
  if (!p->snapshot) /* a log: a line per snapshot */
    return;
  fprintf(stderr, "step %lld/%lld  d_loss %.4f  g_loss %.4f  %.1f s", (long long)p->step, (long long)p->steps,
          p->d_loss, p->g_loss, p->seconds);
  if (p->nmodes)
    fprintf(stderr, "  modes %d/%d  high quality %.1f%%", p->modes, p->nmodes, 100 * p->high_quality);
  fputc('\n', stderr);
}
