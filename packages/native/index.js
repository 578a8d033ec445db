'use strict';
// @shm/native at run time: where the shared C++ headers are (for
// binding.gyp files), and the loader of the shm addons (loader.js).
const path = require('node:path');
const { loadAddon } = require('./loader');

// Assigned one by one, so that Node's ESM import finds both names (cjs-module-lexer).
exports.include_dir = path.relative('.', path.join(__dirname, 'include')).split(path.sep).join('/');
exports.loadAddon = loadAddon;
