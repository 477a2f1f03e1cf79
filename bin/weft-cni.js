#!/usr/bin/env node
import '../dist/cni-shim/main.js';
