# Helpers shared by the benchmark scripts (dot-sourced). They write to $OutFile and format with $inv, both set by the
# calling script before it dot-sources this file.

function Log([string] $Text) {
    Write-Host $Text
    [IO.File]::AppendAllText($OutFile, $Text + "`n")
}

# One "raw <name>: v1 v2 ..." line in the result file; $null values are written as 'none'.
function Raw([string] $Name, $Values, [string] $Format = '0.###') {
    $text = @($Values | ForEach-Object { if ($null -eq $_) { 'none' } else { ([double]$_).ToString($Format, $inv) } }) -join ' '
    [IO.File]::AppendAllText($OutFile, ('raw {0}: {1}' -f $Name, $text) + "`n")
}

function First($Items) {
    foreach ($item in $Items) { return $item }
    return $null
}

# Median, min and max of the values that are not $null (a run that never saw the event counts as missing, and N says so).
function Stats($Values) {
    $s = [double[]]@($Values | Where-Object { $null -ne $_ } | ForEach-Object { [double]$_ })
    [Array]::Sort($s)
    $n = $s.Length
    if ($n -eq 0) { return [pscustomobject]@{ N = 0; Median = [double]::NaN; Min = [double]::NaN; Max = [double]::NaN } }
    $median = if ($n % 2) { $s[($n - 1) / 2] } else { ($s[$n / 2 - 1] + $s[$n / 2]) / 2 }
    [pscustomobject]@{ N = $n; Median = $median; Min = $s[0]; Max = $s[$n - 1] }
}
