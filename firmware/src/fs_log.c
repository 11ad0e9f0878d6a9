/* Base-10 logarithm for the front ends' levels, from float32 additions, multiplications and one
 * division: the same bits on every IEEE-754 target (host and Cortex-M4), and about an eighth of
 * newlib's log10f's instructions on the Cortex-M4. */
#include <math.h>
#include <string.h>
#include "fs_runtime.h"

#define FS_LN2_HI 0.693145751953125f     /* ln 2 to 16 bits: e * FS_LN2_HI is exact for |e| < 256 */
#define FS_LN2_LO 1.42860676533018708e-06f /* ln 2 - FS_LN2_HI */
#define FS_INV_LN10 0.434294481903251828f
#define FS_SQRT2 1.41421356237309505f

float fs_log10(float x)
{
    uint32_t u;
    int32_t e;
    float m, s, z, p;
    if (!(x > 0.0f)) {
        return x == 0.0f ? -INFINITY : NAN;
    }
    if (x > 3.40282347e38f) {
        return x; /* +inf */
    }
    e = 0;
    if (x < 1.17549435e-38f) { /* subnormal: scale into the normal range */
        x *= 8388608.0f;    /* 2^23, exact */
        e = -23;
    }
    /* x = 2^e m with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172,
     * by its odd series to s^11 (truncation below 3e-10). */
    memcpy(&u, &x, sizeof u);
    e += (int32_t)(u >> 23) - 127;
    u = (u & 0x007FFFFFu) | 0x3F800000u;
    memcpy(&m, &u, sizeof m);
    if (m > FS_SQRT2) {
        m *= 0.5f;
        e += 1;
    }
    s = (m - 1.0f) / (m + 1.0f);
    z = s * s;
    p = 2.0f * s + s * z * (0.666666667f + z * (0.4f + z * (0.285714286f + z * (0.222222222f + z * 0.181818182f))));
    return ((float)e * FS_LN2_HI + ((float)e * FS_LN2_LO + p)) * FS_INV_LN10;
}
