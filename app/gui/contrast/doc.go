// Package contrast computes WCAG 2.1 contrast ratios: relative luminance
// of sRGB colours, alpha compositing of translucent colours over what is
// under them, and the text-size rule that separates normal from large text.
// The desktop app's theme test uses it, and so can anyone checking pixels of
// a screenshot.
package contrast
