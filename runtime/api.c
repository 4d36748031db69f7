/* api.c — what the compiler and the runtime say alike: the names of the
 * functions ganc emits (ganc.h: GANC_FUNCTIONS), for everything that looks
 * them up (the JIT, dlsym callers, the compiler's symbol checks, the CLI),
 * and shapes as users see them in messages. */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "ganc.h"
#include "io.h"

const char *ganc_fn_suffix(ganc_fn fn)
{
  static const char *const suffix[GANC_NFNS] = {
#define SUFFIX(id, name) [GANC_FN_##id] = #name,
      GANC_FUNCTIONS(SUFFIX)
#undef SUFFIX
  };
  return (int)fn >= 0 && fn < GANC_NFNS ? suffix[fn] : NULL;
}

void ganc_format_shape(char *buf, size_t len, const int64_t *dims, int rank)
{
  size_t used = 0;
  buf[0] = 0;
  used += (size_t)snprintf(buf, len, "[");
  for (int i = 0; i < rank && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, i ? ", " : "",
                             dims[i]);
  if (used < len)
    snprintf(buf + used, len - used, "]");
}
