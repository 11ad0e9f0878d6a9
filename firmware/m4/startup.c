/* Cortex-M4 startup for QEMU mps2-an386: vector table, .data/.bss set-up,
 * FPU enable, stack painting (for the high-water mark), SysTick. */
#include <stdint.h>

#define STACK_PAINT 0xA5A5A5A5u

extern uint32_t _data_load, _data_start, _data_end, _bss_start, _bss_end, _stack_bottom, _stack_top;
extern int main(void);
void Reset_Handler(void);
void SysTick_Handler(void);
static void Default_Handler(void);

volatile uint32_t fs_systick_wraps;

__attribute__((section(".vectors"), used))
static void (*const vectors[16])(void) = {
    (void (*)(void))(&_stack_top), Reset_Handler, Default_Handler, Default_Handler,
    Default_Handler, Default_Handler, Default_Handler, 0, 0, 0, 0,
    Default_Handler, Default_Handler, 0, Default_Handler, SysTick_Handler,
};

static void Default_Handler(void)
{
    for (;;) {
    }
}

void SysTick_Handler(void)
{
    fs_systick_wraps++;
}

__attribute__((noinline)) static void paint_stack(void)
{
    uint32_t sp;
    volatile uint32_t *p = &_stack_bottom;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    while ((uint32_t)p < sp - 64u) {
        *p++ = STACK_PAINT;
    }
}

uint32_t fs_stack_high_water(void)
{
    const uint32_t *p = &_stack_bottom;
    while (p < &_stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)&_stack_top - (uintptr_t)p);
}

void Reset_Handler(void)
{
    uint32_t *src = &_data_load;
    uint32_t *dst;
    for (dst = &_data_start; dst < &_data_end;) {
        *dst++ = *src++;
    }
    for (dst = &_bss_start; dst < &_bss_end;) {
        *dst++ = 0u;
    }
    /* CPACR: full access to CP10/CP11 (the FPU). */
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
    __asm__ volatile("dsb\n isb");
    paint_stack();
    main();
    for (;;) {
    }
}
