using System;
using System.Collections.Generic;
using System.Globalization;
using VirtualNetworks.HyperV.Cim;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// Options of the Hyper-V backend, read by name from <see cref="Backends.BackendRequest.Options"/>
    /// (docs/hyperv-backend.md §1): SwitchName, TransportSwitchName, VirtualHardDiskPath, ImagePath, JobTimeout,
    /// MigrationTimeout, ShutdownTimeout, ProbeTimeout.
    /// Credentials and CIM session options belong to the connector and are passed through untouched.
    /// </summary>
    public sealed class HyperVBackendOptions
    {
        public const string SwitchNameOption = "SwitchName";
        public const string VirtualHardDiskPathOption = "VirtualHardDiskPath";
        public const string ImagePathOption = "ImagePath";
        public const string JobTimeoutOption = "JobTimeout";
        public const string ShutdownTimeoutOption = "ShutdownTimeout";
        public const string ProbeTimeoutOption = "ProbeTimeout";
        public const string TransportSwitchNameOption = "TransportSwitchName";
        public const string MigrationTimeoutOption = "MigrationTimeout";
        public const string SecureBootTemplateOption = "SecureBootTemplate";

        /// <summary>
        /// Hyper-V's "Microsoft UEFI Certificate Authority" Secure Boot template (the one that trusts shim-signed Linux
        /// boot chains; the default "Microsoft Windows" template refuses them). Its id is the same on every host.
        /// </summary>
        public const string MicrosoftUefiCertificateAuthorityTemplateId = "272e7447-90a4-4563-a4b9-8e4ab00526ce";

        /// <summary>ElementName of the private fabric switch (default VirtualNetworks-Fabric).</summary>
        public string SwitchName { get; set; } = HyperVNames.DefaultSwitchName;
        /// <summary>
        /// ElementName of the external switch that carries links between hosts (the link's VLAN id in access mode). The
        /// administrator creates it on every host (the backend never creates or binds an external switch: binding the
        /// wrong adapter cuts the host off). Default <see cref="HyperVNames.DefaultTransportSwitchName"/>; null: links
        /// across hosts are refused.
        /// </summary>
        public string? TransportSwitchName { get; set; } = HyperVNames.DefaultTransportSwitchName;
        /// <summary>Longest wait for one MigrateVirtualSystemToHost job (default 30 minutes).</summary>
        public TimeSpan MigrationTimeout { get; set; } = TimeSpan.FromMinutes(30);
        /// <summary>Directory of the differencing disks; null = &lt;host DefaultVirtualHardDiskPath&gt;\VirtualNetworks.</summary>
        public string? VirtualHardDiskPath { get; set; }
        /// <summary>Directory where a bare image name is looked up as &lt;ImagePath&gt;\&lt;name&gt;.vhdx.</summary>
        public string? ImagePath { get; set; }
        /// <summary>
        /// Secure Boot template id of new routers (Msvm_VirtualSystemSettingData.SecureBootTemplateId); default the
        /// Microsoft UEFI Certificate Authority template, which boots the project's router.vhdx (Debian's signed shim,
        /// GRUB and kernel). Null: Secure Boot off (option value "Off"), for images whose boot chain is not signed.
        /// </summary>
        public string? SecureBootTemplateId { get; set; } = MicrosoftUefiCertificateAuthorityTemplateId;
        /// <summary>Longest wait for one Hyper-V job (default 10 minutes).</summary>
        public TimeSpan JobTimeout { get; set; } = TimeSpan.FromMinutes(10);
        /// <summary>Longest wait for a graceful guest shutdown (default 2 minutes).</summary>
        public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromMinutes(2);
        /// <summary>Longest wait for a probe answer from the guest agent (default 10 s).</summary>
        public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(10);
        /// <summary>
        /// Guest commands over KVP (batched probes, routes, routing) wait ProbeTimeout plus the guest's own time limit for
        /// the command (guest contract §3) when true (default). Tests with a simulated guest set it false.
        /// </summary>
        internal bool WaitIncludesGuestBound { get; set; } = true;
        /// <summary>Longest wait for EnabledState to reach a requested state after the job ended (default 60 s).</summary>
        public TimeSpan StateTimeout { get; set; } = TimeSpan.FromSeconds(60);
        /// <summary>Poll interval for state, shutdown and probe waits.</summary>
        public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

        /// <summary>First and longest interval between job polls (CimJobPolicy; the poll interval doubles up to the maximum).</summary>
        public TimeSpan JobFirstPoll { get; set; } = TimeSpan.FromMilliseconds(20);
        public TimeSpan JobMaxPoll { get; set; } = TimeSpan.FromMilliseconds(250);

        internal CimJobPolicy JobPolicy => new CimJobPolicy { Timeout = JobTimeout, FirstPoll = JobFirstPoll, MaxPoll = JobMaxPoll };

        /// <summary>Reads the options from a request's option bag; unknown names are left to the connector.</summary>
        public static HyperVBackendOptions From(IDictionary<string, object?>? bag)
        {
            var o = new HyperVBackendOptions();
            if (bag == null) return o;
            string? S(string name) => bag.TryGetValue(name, out var v) && v != null ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;
            if (!string.IsNullOrWhiteSpace(S(SwitchNameOption))) o.SwitchName = S(SwitchNameOption)!.Trim();
            if (!string.IsNullOrWhiteSpace(S(VirtualHardDiskPathOption))) o.VirtualHardDiskPath = S(VirtualHardDiskPathOption)!.Trim();
            if (!string.IsNullOrWhiteSpace(S(ImagePathOption))) o.ImagePath = S(ImagePathOption)!.Trim();
            if (!string.IsNullOrWhiteSpace(S(TransportSwitchNameOption))) o.TransportSwitchName = S(TransportSwitchNameOption)!.Trim();
            string? template = S(SecureBootTemplateOption)?.Trim();
            if (!string.IsNullOrEmpty(template))
            {
                if (string.Equals(template, "Off", StringComparison.OrdinalIgnoreCase)) o.SecureBootTemplateId = null;
                else if (Guid.TryParseExact(template, "D", out var id)) o.SecureBootTemplateId = id.ToString("D");
                else throw new VirtualNetworksException(HyperVErrorIds.InvalidOption, ErrorKind.InvalidArgument, SecureBootTemplateOption,
                    $"The Hyper-V backend option '{SecureBootTemplateOption}' must be a Secure Boot template id (a GUID such as " +
                    $"{MicrosoftUefiCertificateAuthorityTemplateId}, the Microsoft UEFI Certificate Authority) or 'Off'; got '{template}'.");
            }
            o.MigrationTimeout = Duration(bag, MigrationTimeoutOption, o.MigrationTimeout);
            o.JobTimeout = Duration(bag, JobTimeoutOption, o.JobTimeout);
            o.ShutdownTimeout = Duration(bag, ShutdownTimeoutOption, o.ShutdownTimeout);
            o.ProbeTimeout = Duration(bag, ProbeTimeoutOption, o.ProbeTimeout);
            return o;
        }

        /// <summary>A TimeSpan, a number of seconds, or a TimeSpan text ("00:05:00").</summary>
        private static TimeSpan Duration(IDictionary<string, object?> bag, string name, TimeSpan fallback)
        {
            if (!bag.TryGetValue(name, out var v) || v == null) return fallback;
            TimeSpan? t = v switch
            {
                TimeSpan ts => ts,
                int i => TimeSpan.FromSeconds(i),
                long l => TimeSpan.FromSeconds(l),
                double d => TimeSpan.FromSeconds(d),
                string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var sec) => TimeSpan.FromSeconds(sec),
                string s when TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var ts2) => ts2,
                _ => null,
            };
            if (t == null || t.Value <= TimeSpan.Zero)
                throw new VirtualNetworksException(HyperVErrorIds.InvalidOption, ErrorKind.InvalidArgument, name,
                    $"The Hyper-V backend option '{name}' must be a positive duration (seconds or a TimeSpan); got '{v}'.");
            return t.Value;
        }
    }
}
