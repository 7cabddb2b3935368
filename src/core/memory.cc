#include "headwater/core/memory.h"

#include <sys/prctl.h>

namespace headwater {

void DisableTransparentHugePages() {
#ifdef PR_SET_THP_DISABLE
  (void)prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
#endif
}

}  // namespace headwater
