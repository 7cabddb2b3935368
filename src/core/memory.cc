#include "headwater/core/memory.h"

#include <sys/prctl.h>

namespace headwater {

bool SetTransparentHugePagesDisabled(bool disabled) {
#if defined(PR_SET_THP_DISABLE) && defined(PR_GET_THP_DISABLE)
  const bool before = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1;
  (void)prctl(PR_SET_THP_DISABLE, disabled ? 1 : 0, 0, 0, 0);
  return before;
#else
  (void)disabled;
  return false;
#endif
}

}  // namespace headwater
