<?php
// Differential oracle. Mode "raw": PHP's version_compare(). Mode "composer":
// Composer's VersionParser::normalize() then version_compare(); branches
// (normalized "dev-*") print "branch" because Composer does not order them.
$mode = $argv[1] ?? 'raw';
if ($mode === 'composer') {
    require_once '/usr/share/php/Composer/Semver/autoload.php';
    $parser = new Composer\Semver\VersionParser();
}
while (($line = fgets(STDIN)) !== false) {
    [$a, $b] = explode("\t", rtrim($line, "\n"), 2) + [1 => ''];
    if ($mode === 'composer') {
        try {
            $a = $parser->normalize($a);
            $b = $parser->normalize($b);
        } catch (Throwable $e) {
            echo "error\n";
            continue;
        }
        if (strncmp($a, 'dev-', 4) === 0 || strncmp($b, 'dev-', 4) === 0) {
            echo "branch\n";
            continue;
        }
    }
    $r = version_compare($a, $b);
    echo $r < 0 ? "<\n" : ($r > 0 ? ">\n" : "=\n");
}
