/** Calls slower than this many milliseconds are reported. */
export const threshold = 4990;
