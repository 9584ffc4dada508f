# Packaging targets; the top-level Makefile includes this file
# (`include packaging/packaging.mk`). The logic lives in packaging/*.sh.
.PHONY: deb dist gui-vet

## deb: Debian packages cvpn (amd64, arm64) and cvpn-gui (native arch) into build/deb, with nfpm (a pinned Go module, fetched by go run)
deb: deps-build
	GO=$(GO) VERSION=$(VERSION) bash packaging/deb.sh build/deb

## dist: cvpn for linux/darwin/windows x amd64/arm64, the Linux GUI, the Windows zips, the macOS bundle layout, checksums
dist: deps-build
	GO=$(GO) VERSION=$(VERSION) bash packaging/dist.sh build/dist

## gui-vet: type-check the GUI for windows and darwin without cgo (-tags ci). On darwin only
## app/gui/... : fyne.io/fyne/v2/app itself needs cgo there (internal/app/theme_darwin.go).
gui-vet: deps-go
	@set -e; for arch in amd64 arm64; do \
		echo "gui-vet windows/$$arch, darwin/$$arch"; \
		CGO_ENABLED=0 GOOS=windows GOARCH=$$arch $(GO) vet -tags ci ./cmd/cvpn-gui/ ./app/gui/...; \
		CGO_ENABLED=0 GOOS=darwin GOARCH=$$arch $(GO) vet -tags ci ./app/gui/...; \
	done
