// Quoting for the command lines Pulumi runs on the host over SSH (one helper for every component).

/**
 * Characters bash never expands or splits on in any position of a word: no globs, `$`, `~`,
 * quotes, braces or `=` (a leading `NAME=` word would be an assignment). Words made of only these
 * stay bare so `npm run plan` shows readable commands; any other word is single-quoted.
 */
const BARE = /^[A-Za-z0-9_.\/:@+,-]+$/;

/** One word as bash reads it back verbatim: bare when safe, else in single quotes ('\'' for each embedded quote). */
export function shellQuote(word: string): string {
    return BARE.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line whose words bash reads back exactly as given. */
export function shellCommand(words: readonly string[]): string {
    return words.map(shellQuote).join(" ");
}

/**
 * Installs a root-only file (root:root 0600, in a 0700 directory, written atomically) from the step's
 * stdin, so its secret content never reaches a command line.
 */
export function rootOnlyFileCommand(file: string): string {
    const dir = file.slice(0, file.lastIndexOf("/"));
    const tmp = `${file}.new`;
    return [
        "set -eu",
        `sudo install -d -o root -g root -m 0700 ${shellQuote(dir)}`,
        `sudo sh -c ${shellQuote(`umask 077 && cat > ${shellQuote(tmp)} && chown root:root ${shellQuote(tmp)} && chmod 0600 ${shellQuote(tmp)} && mv -f ${shellQuote(tmp)} ${shellQuote(file)}`)}`,
    ].join("\n");
}
