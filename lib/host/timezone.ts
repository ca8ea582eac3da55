// coinpilot:timezone: the host's time zone (assets/host/set-timezone.sh), which the backups' cron
// times follow. Pure: the check of the name.

/**
 * Problem with a zone name for the host, or undefined when it is an IANA Area/Location name (or
 * UTC) that Node's ICU knows, spelt as the host's /usr/share/zoneinfo spells it (case matters there,
 * not to ICU). Offsets ("+09:00"), abbreviations ("KST") and legacy aliases ("Japan") are refused.
 */
export function checkTimezone(text: string): string | undefined {
    const fix = "use an IANA name such as Asia/Seoul or UTC (timedatectl list-timezones)";
    if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)+$/.test(text) && text !== "UTC") return `"${text}" is not an IANA Area/Location time zone name; ${fix}`;
    let resolved: string;
    try {
        resolved = new Intl.DateTimeFormat("en", { timeZone: text }).resolvedOptions().timeZone;
    } catch {
        return `"${text}" is not a known time zone; ${fix}`;
    }
    if (resolved !== text && resolved.toLowerCase() === text.toLowerCase()) return `"${text}" must be spelt ${resolved} (the host's zone files are case-sensitive)`;
    return undefined;
}
