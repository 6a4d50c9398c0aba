/* hangul — the constants of the Unicode Standard's algorithmic Hangul
 * syllable (de)composition (Unicode §3.12), for both normalizers: ft-clean's
 * NFC (lib/unicode, Python's tables) and tokenizer.json's (lib/normalize,
 * the tokenizers library's). */
#ifndef FT_HANGUL_H
#define FT_HANGUL_H

#define S_BASE 0xAC00u
#define L_BASE 0x1100u
#define V_BASE 0x1161u
#define T_BASE 0x11A7u
#define L_COUNT 19u
#define V_COUNT 21u
#define T_COUNT 28u
#define N_COUNT (V_COUNT * T_COUNT)
#define S_COUNT (L_COUNT * N_COUNT)

#endif
