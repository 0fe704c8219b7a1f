using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Module.Tests
{
    /// <summary>Argument completion of -ComputerName (every cmdlet) and Move-VirtualRouter -DestinationHost from the observed hosts.</summary>
    public sealed class HostCompletionTests : ModuleTestBase
    {
        private List<string> Complete(string input)
        {
            using var ps = PowerShell.Create();
            ps.Runspace = Session.Runspace;
            var c = CommandCompletion.CompleteInput(input, input.Length, null, ps);
            return c.CompletionMatches.Select(m => m.CompletionText.Trim('\'')).ToList();
        }

        /// <summary>Two lab hosts besides the local machine; r1 on lab1, r2 on the local machine.</summary>
        private void TwoLabHosts()
        {
            RunOk("New-VirtualLabHost -Name lab1 -Confirm:$false | Out-Null; New-VirtualLabHost -Name lab2 -ConnectedTo lab1 -Confirm:$false | Out-Null; " +
                  "New-VirtualRouter -Name r1 -ComputerName lab1 | Out-Null; New-VirtualRouter -Name r2 | Out-Null");
        }

        [Theory]
        [InlineData("Get-VirtualRouter -ComputerName ")]
        [InlineData("Get-VirtualLink -ComputerName ")]
        [InlineData("Get-VirtualNetwork -ComputerName ")]
        [InlineData("Get-VirtualHost -ComputerName ")]
        [InlineData("Test-VirtualNetwork -ComputerName ")]
        [InlineData("Deploy-VirtualNetwork -ComputerName ")]
        [InlineData("New-VirtualRouter -Name x -ComputerName ")]
        [InlineData("Stop-VirtualRouter -ComputerName ")]
        [InlineData("Set-VirtualLink -ComputerName ")]
        [InlineData("Remove-VirtualNetworkOrphan -ComputerName ")]
        public void ComputerName_CompletesTheKnownHosts_LabHostsIncluded(string input)
        {
            TwoLabHosts();
            Assert.Equal(new[] { "lab1", "lab2", HostNames.LocalName }.OrderBy(n => n, System.StringComparer.OrdinalIgnoreCase), Complete(input));
            Assert.Equal(new[] { "lab1", "lab2" }, Complete(input + "la"));
            Assert.Equal(new[] { "lab2" }, Complete(input + "lab1, lab2").Where(n => n == "lab2"));
        }

        [Fact]
        public void EveryComputerNameParameter_HasTheHostCompleter()
        {
            var r = RunOk("Get-Command -Module VirtualNetworks | ForEach-Object { $c = $_; $c.Parameters['ComputerName'] } | Where-Object { $_ } | " +
                          "ForEach-Object { '{0}={1}' -f $_.Name, (@($_.Attributes | Where-Object { $_ -is [System.Management.Automation.ArgumentCompleterAttribute] } | ForEach-Object { $_.Type.Name }) -join ',') }");
            Assert.True(r.Output.Count >= 10, "expected -ComputerName on most cmdlets, found " + r.Output.Count);
            Assert.All(r.Output.Select(o => o.ToString()), line => Assert.Equal("ComputerName=ComputerNameCompleter", line));
        }

        [Fact]
        public void DestinationHost_LeavesOutTheHostTheRouterRunsOn()
        {
            TwoLabHosts();
            Assert.Equal(new[] { "lab2", HostNames.LocalName }.OrderBy(n => n, System.StringComparer.OrdinalIgnoreCase),
                Complete("Move-VirtualRouter -Name r1 -DestinationHost "));
            Assert.Equal(new[] { "lab1", "lab2" }, Complete("Move-VirtualRouter -Name r2 -DestinationHost "));
            // Without -Name (or a router that does not exist) every host may be the destination of something.
            Assert.Equal(3, Complete("Move-VirtualRouter -DestinationHost ").Count);
            Assert.Equal(3, Complete("Move-VirtualRouter -Name nope -DestinationHost ").Count);
            // Routers on different hosts: each host is another router's destination.
            Assert.Equal(3, Complete("Move-VirtualRouter -Name r1, r2 -DestinationHost ").Count);
            Assert.Equal(new[] { "lab2" }, Complete("Move-VirtualRouter r1 -DestinationHost la"));
        }
    }
}
