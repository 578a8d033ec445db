'use strict';
// Header-only C++ shared by the shm native backends. binding.gyp files use
// `node -p "require('@shm/native').include_dir"` as an include directory.
const path = require('node:path');

module.exports = {
  include_dir: path.relative('.', path.join(__dirname, 'include')).split(path.sep).join('/'),
};
