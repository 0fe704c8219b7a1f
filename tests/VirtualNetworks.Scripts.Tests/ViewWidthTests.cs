using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Xml.Linq;
using Xunit;

namespace VirtualNetworks.Scripts.Tests
{
    /// <summary>
    /// Every default view of the staged VirtualNetworks.format.ps1xml, rendered in real pwsh at 80 columns (the default
    /// console) with realistic, long-ish values: no line is wider than 80, no column is dropped, and no value is cut.
    /// </summary>
    /// <remarks>
    /// The objects are the module's own public model types, built in pwsh ([VirtualNetworks.X]@{...}) after importing the
    /// staged module, and rendered by their default view with Out-String -Width 80. The values are those of the paper's
    /// Figure 1 with names as topology files typically spell them (see <see cref="Script"/>): router names of 8 characters,
    /// link names derived from them ("edge-e01-core-m01", 17), lab hosts of 7-8 and a machine name of 11, network names
    /// of 8, IPv6 addresses from the default pool, links crossing 0, 1, 2 and 3 physical hops, rates from kbit/s to Gbit/s.
    /// Free text that can be longer than a console line (a drifted host's Status, a probe's Detail, an orphan's reason) is
    /// not part of these tables: Status is the last column, Detail is in Format-List only, orphans are a list view.
    /// </remarks>
    public sealed class ViewWidthTests
    {
        private const int Width = 80;

        /// <summary>Builds samples of every type with a view and writes, per type, the text of its default view at 80 columns and the values that must appear in it.</summary>
        private const string Script = @"
param([string] $Manifest, [string] $OutFile)
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$PSStyle.OutputRendering = 'PlainText'
Import-Module $Manifest

$samples = [ordered]@{}
$expect = @{}

$samples['VirtualNetworks.VirtualRouter'] = @(
    [VirtualNetworks.VirtualRouter]@{ Name = 'edge-e01'; State = 'Running'; ComputerName = 'lab-east'; NetworkName = 'campus-a'; Image = 'router'; ProcessorCount = 1; MemoryMB = 128; Links = [string[]]@('edge-e01-core-m01', 'edge-e01-edge-w01') }
    [VirtualNetworks.VirtualRouter]@{ Name = 'core-m01'; State = 'Paused'; ComputerName = 'buildhost01'; NetworkName = 'campus-a'; Image = 'router'; ProcessorCount = 2; MemoryMB = 1024; Links = [string[]]@('edge-e01-core-m01', 'core-m01-edge-w01', 'core-m01-core-m02') }
    [VirtualNetworks.VirtualRouter]@{ Name = 'edge-w02'; State = 'Failed'; ComputerName = 'lab-west'; NetworkName = 'campus-b#2'; Image = 'router'; ProcessorCount = 1; MemoryMB = 256; AddressFamily = 'IPv6' }
)
$expect['VirtualNetworks.VirtualRouter'] = @('edge-e01', 'core-m01', 'edge-w02', 'Running', 'Paused', 'Failed', 'lab-east', 'buildhost01', 'lab-west', 'campus-a', 'campus-b#2', 'router', '1024')

$samples['VirtualNetworks.VirtualLink'] = @(
    [VirtualNetworks.VirtualLink]@{ Name = 'edge-e01-core-m01'; From = 'edge-e01'; To = 'core-m01'; FromComputerName = 'lab-east'; ToComputerName = 'lab-mid'; MaximumBandwidth = 10000000; VlanId = 4094; Transport = 'Vxlan'; TunnelId = 10001; UnderlayPath = [string[]]@('lab-east', 'lab-mid'); NetworkName = 'campus-a' }
    [VirtualNetworks.VirtualLink]@{ Name = 'edge-e01-edge-w01'; From = 'edge-e01'; To = 'edge-w01'; FromComputerName = 'lab-east'; ToComputerName = 'lab-west'; MaximumBandwidth = 1500000000; Transport = 'Vxlan'; TunnelId = 10002; UnderlayPath = [string[]]@('lab-east', 'lab-mid', 'lab-west'); NetworkName = 'campus-a' }
    [VirtualNetworks.VirtualLink]@{ Name = 'edge-e02-edge-n02'; From = 'edge-e02'; To = 'edge-n02'; FromComputerName = 'lab-east'; ToComputerName = 'lab-north'; MaximumBandwidth = 512000; Transport = 'Vxlan'; TunnelId = 10003; UnderlayPath = [string[]]@('lab-east', 'lab-mid', 'lab-west', 'lab-north'); NetworkName = 'campus-b' }
    [VirtualNetworks.VirtualLink]@{ Name = 'core-m01-core-m02'; From = 'core-m01'; To = 'core-m02'; FromComputerName = 'buildhost01'; ToComputerName = 'buildhost01'; Transport = 'TaggedBridge'; VlanId = 4094; NetworkName = 'campus-b#2' }
    [VirtualNetworks.VirtualLink]@{ Name = 'core-m02-core-m03'; From = 'core-m02'; To = 'core-m03'; FromComputerName = 'buildhost01'; ToComputerName = 'buildhost01'; Transport = 'TaggedBridge'; MaximumBandwidth = 10000000; NetworkName = 'campus-b#2'; State = 'CablePulled' }
    [VirtualNetworks.VirtualLink]@{ Name = 'core-m03-core-m04'; From = 'core-m03'; To = 'core-m04'; FromComputerName = 'buildhost01'; ToComputerName = 'buildhost01'; Transport = 'TaggedBridge'; NetworkName = 'campus-b#2'; State = 'Silent' }
)
$expect['VirtualNetworks.VirtualLink'] = @('pulled', 'silent', 'edge-e01-core-m01', 'edge-e01-edge-w01', 'edge-e02-edge-n02', 'core-m01-core-m02', 'edge-w01', 'edge-n02', 'core-m02',
    '10 Mbit/s', '1.5 Gbit/s', '512 kbit/s', 'unlimited', 'lab-east>lab-mid', 'lab-east>lab-west', 'lab-east>lab-north', 'buildhost01', 'campus-b#2')

$samples['VirtualNetworks.VirtualNetwork'] = @(
    [VirtualNetworks.VirtualNetwork]@{ Name = 'campus-a'; AddressFamily = 'IPv4'; Routers = [string[]]@('core-m01', 'edge-e01', 'edge-w01'); Links = [string[]]@('core-m01-edge-w01', 'edge-e01-core-m01', 'edge-e01-edge-w01'); Hosts = [string[]]@('lab-east', 'lab-mid', 'lab-west') }
    [VirtualNetworks.VirtualNetwork]@{ Name = 'campus-b#2'; AddressFamily = 'IPv6'; Routers = [string[]]@('edge-w02', 'edge-n02'); Links = [string[]]@('edge-w02-edge-n02'); Hosts = [string[]]@('lab-west', 'lab-north') }
    [VirtualNetworks.VirtualNetwork]@{ Name = 'lab+campus'; Routers = [string[]]@('core-m03', 'core-m04'); Links = [string[]]@('core-m03-core-m04'); Hosts = [string[]]@('buildhost01') }
)
$expect['VirtualNetworks.VirtualNetwork'] = @('campus-a', 'campus-b#2', 'lab+campus', 'IPv4', 'IPv6', 'mixed', 'core-m01, edge-e01, edge-w01', 'lab-east, lab-mid, lab-west', 'edge-w02, edge-n02', 'lab-west, lab-north', 'buildhost01')

$samples['VirtualNetworks.VirtualHost'] = @(
    [VirtualNetworks.VirtualHost]@{ Name = 'buildhost01'; Kind = 'Linux'; UnderlayAddress = '198.19.255.1'; Neighbors = [string[]]@('lab-east'); Routers = [string[]]@('core-m01', 'core-m02') }
    [VirtualNetworks.VirtualHost]@{ Name = 'lab-mid'; Kind = 'Linux'; IsLabHost = $true; CreatedByDeployment = $true; UnderlayAddress = '198.19.255.3'; Neighbors = [string[]]@('lab-east', 'lab-west'); Routers = [string[]]@('core-m05', 'core-m06') }
    [VirtualNetworks.VirtualHost]@{ Name = 'lab-north'; Kind = 'Linux'; IsLabHost = $true; UnderlayAddress = '198.19.255.14'; Neighbors = [string[]]@('lab-west'); Routers = [string[]]@('edge-n02') }
)
$expect['VirtualNetworks.VirtualHost'] = @('buildhost01', 'lab-mid', 'lab-north', 'deploy', 'yes', '198.19.255.1', '198.19.255.14', 'lab-east, lab-west', 'core-m01, core-m02', 'core-m05, core-m06', 'edge-n02')

$samples['VirtualNetworks.PhysicalLink'] = @(
    [VirtualNetworks.PhysicalLink]@{ From = 'buildhost01'; To = 'lab-east'; FromAddress = '198.19.0.0/31'; ToAddress = '198.19.0.1/31'; Id = 'vnv0123456789/vnv9876543210' }
    [VirtualNetworks.PhysicalLink]@{ From = 'lab-north'; To = 'lab-west'; FromAddress = '198.19.0.126/31'; ToAddress = '198.19.0.127/31'; Id = 'vnv1111111111/vnv2222222222' }
)
$expect['VirtualNetworks.PhysicalLink'] = @('buildhost01', 'lab-east', 'lab-north', 'lab-west', '198.19.0.0/31', '198.19.0.1/31', '198.19.0.126/31', '198.19.0.127/31')

$results = @(
    [VirtualNetworks.ReachabilityResult]@{ Source = 'edge-e02'; SourceNetwork = 'campus-b'; Destination = 'edge-n02'; DestinationNetwork = 'campus-b'; DestinationAddress = 'fd00:76e:0:1::1f'; Expected = 'Reachable'; Reachable = $true; RoundTripMilliseconds = 1234.56; Detail = 'round-trip min/avg/max = 1100.100/1234.560/1400.900 ms' }
    [VirtualNetworks.ReachabilityResult]@{ Source = 'edge-e01'; SourceNetwork = 'campus-a'; Destination = 'edge-w02'; DestinationNetwork = 'campus-b'; DestinationAddress = 'fd00:76e:0:1::1e'; Expected = 'Unreachable'; Reachable = $false; Detail = '3 packets transmitted, 0 packets received, 100% packet loss' }
    [VirtualNetworks.ReachabilityResult]@{ Source = 'core-m01'; SourceNetwork = 'campus-a'; Destination = 'edge-w01'; DestinationNetwork = 'campus-a'; DestinationAddress = '10.200.0.13'; Expected = 'Reachable'; Reachable = $false; Detail = ""router 'core-m01' is not running"" }
)
$samples['VirtualNetworks.ReachabilityResult'] = $results
$expect['VirtualNetworks.ReachabilityResult'] = @('edge-e02', 'edge-n02', 'edge-e01', 'edge-w02', 'core-m01', 'edge-w01', 'fd00:76e:0:1::1f', 'fd00:76e:0:1::1e', '10.200.0.13', 'Unreachable', ('{0:N1}' -f 1234.56))

$samples['VirtualNetworks.VirtualNetworkTestReport'] = @(
    [VirtualNetworks.VirtualNetworkTestReport]@{ Networks = [string[]]@('campus-a', 'campus-b', 'campus-b#2', 'lab+campus'); ProbeCount = 126; PassedCount = 125; ReachabilityFailures = 1; Duration = [TimeSpan]::FromSeconds(42.5); Results = [VirtualNetworks.ReachabilityResult[]]$results }
)
$expect['VirtualNetworks.VirtualNetworkTestReport'] = @('campus-a, campus-b, campus-b#2, lab+campus', '126', '125', '3 probe(s); see the Results property')

$samples['VirtualNetworks.VirtualRoute'] = @(
    [VirtualNetworks.VirtualRoute]@{ RouterName = 'edge-e01'; Prefix = 'fd00:76e:0:1::1e/127'; LinkName = 'edge-e01-core-m01'; Protocol = 'connected'; AddressFamily = 'IPv6' }
    [VirtualNetworks.VirtualRoute]@{ RouterName = 'edge-e01'; Prefix = 'fd00:76e:0:1::2a/127'; NextHop = 'fd00:76e:0:1::1f'; LinkName = 'edge-e01-core-m01'; Protocol = 'ospf'; Metric = 20; AddressFamily = 'IPv6' }
    [VirtualNetworks.VirtualRoute]@{ RouterName = 'core-m01'; Prefix = '0.0.0.0/0'; NextHop = '10.200.0.13'; LinkName = 'core-m01-edge-w01'; Protocol = 'static'; AddressFamily = 'IPv4' }
)
$expect['VirtualNetworks.VirtualRoute'] = @('edge-e01', 'core-m01', 'fd00:76e:0:1::1e/127', 'fd00:76e:0:1::2a/127', 'fd00:76e:0:1::1f', 'edge-e01-core-m01', 'core-m01-edge-w01', 'connected', 'ospf', 'static', 'direct', '20')

$status = [VirtualNetworks.RoutingStatus]@{ RouterName = 'core-m01'; Protocol = 'Ospf'; NeighborStateChanges = 12; BfdSessionDowns = 3 }
$status.Protocols.Add('ospf2 up'); $status.Protocols.Add('bfd up')
$status.Neighbors.Add([VirtualNetworks.RoutingNeighbor]@{ LinkName = 'edge-e01-core-m01'; RouterId = '203.0.113.254'; State = 'full' })
$status.BfdSessions.Add([VirtualNetworks.BfdSession]@{ LinkName = 'edge-e01-core-m01'; PeerAddress = '10.200.0.12'; State = 'up' })
$samples['VirtualNetworks.RoutingStatus'] = @($status)
$expect['VirtualNetworks.RoutingStatus'] = @('core-m01', 'Ospf', 'ospf2 up, bfd up', '203.0.113.254 on edge-e01-core-m01: full', '10.200.0.12 on edge-e01-core-m01: up', '12')

$samples['VirtualNetworks.LinkMeasurement'] = @(
    [VirtualNetworks.LinkMeasurement]@{ Name = 'edge-e01-edge-w01'; From = 'edge-e01'; To = 'edge-w01'; MaximumBandwidth = 10000000; MeasuredBandwidth = 9623000; Goodput = 9204000; Bytes = 3600000; Duration = [TimeSpan]::FromSeconds(3.02) }
    [VirtualNetworks.LinkMeasurement]@{ Name = 'edge-w01-edge-e01'; From = 'edge-w01'; To = 'edge-e01'; MaximumBandwidth = 1500000000; MeasuredBandwidth = 1480000000; Goodput = 1415000000; Bytes = 560000000; Duration = [TimeSpan]::FromSeconds(3) }
    [VirtualNetworks.LinkMeasurement]@{ Name = 'core-m01-core-m02'; From = 'core-m01'; To = 'core-m02'; MeasuredBandwidth = 812300000; Goodput = 776900000; Bytes = 300000000; Duration = [TimeSpan]::FromSeconds(3) }
)
$expect['VirtualNetworks.LinkMeasurement'] = @('edge-e01-edge-w01', 'edge-w01-edge-e01', 'core-m01-core-m02', '10 Mbit/s', ('{0:0.##} Mbit/s' -f 9.623), ('{0:0.##} Mbit/s' -f 9.204),
    '1.5 Gbit/s', '1.48 Gbit/s', ('{0:0.##} Gbit/s' -f 1.415), ('{0:0.##} Mbit/s' -f 812.3), 'unlimited', ('{0:N3}' -f 0.9623), ('{0:N3}' -f (1480 / 1500)))

$samples['VirtualNetworks.ConnectionTestResult'] = @(
    [VirtualNetworks.ConnectionTestResult]@{ Source = 'edge-e01'; Target = 'core-m01'; Address = 'fd00:76e:0:1::1f'; Sent = 1000; Received = 987; Lost = 13; LongestLossRun = 12; LongestGapMilliseconds = 120; MaximumRoundTripMilliseconds = 1234.5; AverageRoundTripMilliseconds = 3.25; IntervalMilliseconds = 10; Duration = [TimeSpan]::FromSeconds(10.4) }
    [VirtualNetworks.ConnectionTestResult]@{ Source = 'edge-w02'; Address = '10.200.0.13'; Sent = 4; Received = 0; Lost = 4; LongestLossRun = 4; LongestGapMilliseconds = 4000; IntervalMilliseconds = 1000; Duration = [TimeSpan]::FromSeconds(5) }
)
$expect['VirtualNetworks.ConnectionTestResult'] = @('edge-e01', 'edge-w02', 'fd00:76e:0:1::1f', '10.200.0.13', '1000', '987', '13', '120', '4000', ('{0:0.0}' -f 1234.5), ('{0:0.0}' -f 3.25))

$samples['VirtualNetworks.OrphanResource'] = @(
    [VirtualNetworks.OrphanResource]@{ Kind = 'StateFile'; Name = '/var/lib/virtualnetworks/links/edge-e01-core-m01.json.tmp-4711'; Owner = 'edge-e01-core-m01'; ComputerName = 'buildhost01'; Reason = 'temporary file of an interrupted write' }
    [VirtualNetworks.OrphanResource]@{ Kind = 'Process'; Name = '48213'; Owner = 'edge-w02'; ComputerName = 'lab-west'; Reason = 'no router record, and no link record names the router' }
)
$expect['VirtualNetworks.OrphanResource'] = @('/var/lib/virtualnetworks/links/edge-e01-core-m01.json.tmp-4711', 'temporary file of an interrupted write', 'no router record, and no link record names the router', '48213', 'edge-w02', 'lab-west')

$samples['VirtualNetworks.DeploymentResult'] = @(
    [VirtualNetworks.DeploymentResult]@{ Path = '/home/operator/labs/campus/figure1-campus.json'; Changes = 23; Planned = 24; Skipped = 1; Networks = [string[]]@('campus-a', 'campus-b'); Duration = [TimeSpan]::FromSeconds(71.3);
        Steps = [string[]]@(""1. Create lab host (a stand-in machine; removed with the last network deployed on it) on 'lab-north'"", ""7. Create virtual router (host lab-east, image router, 1 CPU, 128 MB, IPv4, network campus-a) on 'edge-e01'"") }
)
$expect['VirtualNetworks.DeploymentResult'] = @('/home/operator/labs/campus/figure1-campus.json', 'campus-a, campus-b', '23', '24')

$out = [ordered]@{}
foreach ($type in $samples.Keys) {
    $out[$type] = @{ Text = ($samples[$type] | Out-String -Width 80); Expect = [string[]]$expect[$type]; Count = @($samples[$type]).Count }
}
$out | ConvertTo-Json -Depth 4 | Set-Content -LiteralPath $OutFile -Encoding utf8
";

        private sealed class View
        {
            public string TypeName = "";
            public bool IsTable;
            public List<string> Labels = new List<string>();
        }

        private static List<View> Views()
        {
            var file = Path.Combine(RepoPaths.StagedModuleDir, "VirtualNetworks.format.ps1xml");
            var views = new List<View>();
            foreach (var v in XDocument.Load(file).Descendants("View"))
            {
                var view = new View { TypeName = v.Descendants("TypeName").First().Value.Trim(), IsTable = v.Element("TableControl") != null };
                if (view.IsTable)
                    view.Labels = v.Descendants("TableColumnHeader").Select(h => h.Element("Label")!.Value.Trim()).ToList();
                else
                    view.Labels = v.Descendants("ListItem").Select(i => (i.Element("Label") ?? i.Element("PropertyName"))!.Value.Trim()).ToList();
                views.Add(view);
            }
            return views;
        }

        [PwshFact]
        public void EveryDefaultView_FitsEightyColumns_InPwsh_WithNothingDroppedOrCut()
        {
            var views = Views();
            Assert.NotEmpty(views);
            string dir = RepoPaths.NewTempDir();
            try
            {
                string json = Path.Combine(dir, "views.json");
                var r = Pwsh.RunScript(Script, new[] { "-Manifest", RepoPaths.StagedManifest, "-OutFile", json });
                Assert.True(r.ExitCode == 0 && File.Exists(json), r.ToString());
                using var doc = JsonDocument.Parse(File.ReadAllText(json));
                var problems = new List<string>();
                foreach (var view in views)
                {
                    if (!doc.RootElement.TryGetProperty(view.TypeName, out var rendered))
                    {
                        problems.Add($"{view.TypeName}: the test has no sample of this type (add one to the script)");
                        continue;
                    }
                    string text = rendered.GetProperty("Text").GetString()!.Replace("\r", "");
                    var lines = text.Split('\n');
                    var nonEmpty = lines.Where(l => l.Trim().Length > 0).ToList();
                    string shown = Environment.NewLine + text;
                    foreach (var line in lines.Where(l => l.Length > Width))
                        problems.Add($"{view.TypeName}: a line is {line.Length} characters wide: '{line}'{shown}");
                    if (text.Contains('\u2026') || text.Contains("..."))
                        problems.Add($"{view.TypeName}: a value was cut (…){shown}");
                    if (view.IsTable)
                    {
                        // Header, dashes, rows: every column is there with its full label, and nothing wrapped onto extra lines.
                        var header = nonEmpty.FirstOrDefault() ?? "";
                        var words = header.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                        if (!words.SequenceEqual(view.Labels))
                            problems.Add($"{view.TypeName}: header shows [{string.Join(", ", words)}], the view has [{string.Join(", ", view.Labels)}]{shown}");
                        int objects = rendered.GetProperty("Count").GetInt32();
                        if (nonEmpty.Count < 3 || !nonEmpty[1].Trim().All(c => c == '-' || c == ' '))
                            problems.Add($"{view.TypeName}: not a table{shown}");
                        else if (nonEmpty.Count != objects + 2)
                            problems.Add($"{view.TypeName}: {objects} object(s) took {nonEmpty.Count - 2} row line(s): a header or value wrapped{shown}");
                    }
                    else
                    {
                        foreach (var label in view.Labels)
                            if (!lines.Any(l => l.StartsWith(label + " ", StringComparison.Ordinal) && l.Contains(" : ")))
                                problems.Add($"{view.TypeName}: the list has no '{label} :' line{shown}");
                    }
                    foreach (var value in rendered.GetProperty("Expect").EnumerateArray().Select(e => e.GetString()!))
                        if (!text.Contains(value, StringComparison.Ordinal))
                            problems.Add($"{view.TypeName}: '{value}' is not shown in full{shown}");
                }
                Assert.True(problems.Count == 0, string.Join(Environment.NewLine + Environment.NewLine, problems));
            }
            finally
            {
                try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
            }
        }
    }
}
