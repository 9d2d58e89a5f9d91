/**
 * Versions as constants, for the modules that must not read files (the core runs in browsers too). A test checks
 * {@link LIBRARY_VERSION} against package.json.
 * @module
 */

/**
 * robustest's version, as in its package.json (a test keeps them equal). Node code can also call
 * `libraryVersion()`, which reads package.json.
 * @internal
 */
export const LIBRARY_VERSION = '0.1.0';

/**
 * Version of the report format (semver), written into a report's `version`.
 *
 * @example
 * ```ts
 * if (report.version.split('.')[0] !== REPORT_VERSION.split('.')[0]) throw new Error('incompatible report');
 * ```
 */
export const REPORT_VERSION = '1.2.0';
