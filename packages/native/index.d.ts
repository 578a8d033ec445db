/** Include directory of the shared C++ headers, relative to the current directory (for binding.gyp). */
export declare const include_dir: string;

/**
 * Loads the addon of the package whose src/ or dist/ module asks
 * (`moduleDirectory` is that module's `__dirname`): the package's own source
 * build (build/Release, build/Debug), else the prebuilt binary that fits
 * (prebuilds/linux-<arch>/<addonName>.napi.<libc>.node). Throws
 * ERR_SHM_ADDON_NOT_FOUND, with `tried`, when none loads.
 */
export declare function loadAddon<Binding>(moduleDirectory: string, addonName: string): Binding;
