// Package iconfmt wraps PNG images into the icon containers the desktop
// platforms want: Apple's .icns (for the macOS app bundle) and Windows'
// .ico (for the installer's Start menu shortcut). Both formats have carried
// PNG data directly since macOS 10.7 and Windows Vista, so no re-encoding
// is needed: the package only writes the container headers.
package iconfmt
