/** Include directory of the shared C++ headers, relative to the current directory. */
export declare const include_dir: string;
