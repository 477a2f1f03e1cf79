# weft container image: weftd (the DaemonSet's main container) and the weft CNI plugin payload that
# the init containers copy to each host with deploy/install-cni.sh (one executable, weft-cni).
#   docker build -t <registry>/weft:0.1.0 .
# Both bases name the exact Node in .nvmrc, the one CI installs and tests on (.ci/install-node).
# test/unit/dockerfile.test.ts checks this file against the repository: the build stage runs the
# CI build recipe itself, and every path the runtime stage copies exists after that build.

# ---- build: devDependencies, node-gyp, TypeScript -------------------------------------------
FROM node:24.22.3-bookworm AS build
# node-gyp (the native addon) needs python3, make and g++; the full node image usually has them.
RUN missing=""; \
    for tool in python3 make g++; do command -v "$tool" >/dev/null || missing="$missing $tool"; done; \
    if [ -n "$missing" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $missing && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY . .
# The same recipe as CI: .ci/install ends with it.
RUN bash .ci/build
# The CNI payload (weft-cni as one executable) needs the dev dependencies (esbuild, postject).
RUN bash deploy/stage-cni.sh /opt/weft/cni \
 && npm prune --omit=dev --no-audit --no-fund \
 && chmod 0755 bin/weftd.js deploy/install-cni.sh

# ---- runtime: production dependencies, the addon, iproute2, iptables ------------------------
FROM node:24.22.3-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iproute2 iptables \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/weft
COPY --from=build /src/package.json /opt/weft/package.json
COPY --from=build /src/bin/ /opt/weft/bin/
COPY --from=build /src/dist/daemon/ /opt/weft/dist/daemon/
COPY --from=build /src/dist/proto/ /opt/weft/dist/proto/
COPY --from=build /src/proto/gossip.proto /opt/weft/proto/gossip.proto
COPY --from=build /src/build/Release/weft_native.node /opt/weft/build/Release/weft_native.node
COPY --from=build /src/node_modules/ /opt/weft/node_modules/
COPY --from=build /opt/weft/cni/ /opt/weft/cni/
COPY --from=build /src/deploy/install-cni.sh /opt/weft/install-cni.sh
RUN ln -s /opt/weft/bin/weftd.js /usr/local/bin/weftd
ENTRYPOINT ["weftd"]
