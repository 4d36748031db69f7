/* api.c — the names of the functions ganc emits (ganc.h: GANC_FUNCTIONS),
 * for everything that looks them up: the JIT, dlsym callers, the compiler's
 * symbol checks and the CLI. */
#include <stddef.h>

#include "ganc.h"

const char *ganc_fn_suffix(ganc_fn fn)
{
  static const char *const suffix[GANC_NFNS] = {
#define SUFFIX(id, name) [GANC_FN_##id] = #name,
      GANC_FUNCTIONS(SUFFIX)
#undef SUFFIX
  };
  return (int)fn >= 0 && fn < GANC_NFNS ? suffix[fn] : NULL;
}
