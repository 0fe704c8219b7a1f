using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security.Cryptography;
using System.Text;

namespace VirtualNetworks.HyperV
{
    /// <summary>
    /// The fixed naming of everything the Hyper-V backend creates (docs/hyperv-backend.md §2): the ownership marker in
    /// VM and switch Notes, NIC names, disk names and MAC addresses. Nothing without the marker is ever touched.
    /// </summary>
    public static class HyperVNames
    {
        /// <summary>First Notes line of every owned VM and switch.</summary>
        public const string Marker = "virtualnetworks:v1";
        public const string KindRouter = "kind=router";
        public const string KindFabric = "kind=fabric";
        /// <summary>Default ElementName of the fabric switch (option SwitchName).</summary>
        public const string DefaultSwitchName = "VirtualNetworks-Fabric";
        /// <summary>Default ElementName of the external transport switch (option TransportSwitchName), created by the administrator.</summary>
        public const string DefaultTransportSwitchName = "VirtualNetworks-Transport";
        /// <summary>Prefix of the ElementName of a link's NIC: <c>vn:&lt;link&gt;</c>.</summary>
        public const string NicPrefix = "vn:";
        public const string GenerationTwo = "Microsoft:Hyper-V:SubType:2";
        public const string Realized = "Microsoft:Hyper-V:System:Realized";

        /// <summary>
        /// VM Notes of a router: ONE element whose lines (joined by "\n") are marker, kind, router, image, label, family.
        /// One element because a host may keep only element 0 of the Notes array (libvirt's Hyper-V driver sees one
        /// element in practice; Hyper-V Manager edits Notes as one multi-line text); <see cref="NoteLines"/> reads this
        /// form and the six-element form written before.
        /// </summary>
        public static string[] RouterNotes(RouterSpec spec) => new[]
        {
            string.Join("\n", Marker, KindRouter, "router=" + spec.Name, "image=" + spec.Image, "label=" + (spec.NetworkLabel ?? ""),
                "family=" + (spec.AddressFamily == NetworkAddressFamily.IPv6 ? "IPv6" : "IPv4")),
        };

        /// <summary>Switch Notes of the fabric: one element, marker and kind on two lines.</summary>
        public static string[] FabricNotes() => new[] { Marker + "\n" + KindFabric };

        /// <summary>Splits Notes (one element with line breaks, or the older one line per element; both read) into lines.</summary>
        public static IReadOnlyList<string> NoteLines(IEnumerable<string> notes) =>
            notes.SelectMany(n => (n ?? "").Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries)).Select(s => s.Trim()).ToList();

        public static bool IsOwned(IEnumerable<string> notes) => NoteLines(notes).FirstOrDefault() == Marker;

        /// <summary>The parsed router marker, or null when the notes are not an owned router's.</summary>
        public static RouterMarker? ParseRouter(IEnumerable<string> notes)
        {
            var lines = NoteLines(notes);
            if (lines.Count == 0 || lines[0] != Marker || !lines.Contains(KindRouter)) return null;
            string? Get(string key) => lines.Where(l => l.StartsWith(key + "=", StringComparison.Ordinal)).Select(l => l.Substring(key.Length + 1)).FirstOrDefault();
            var name = Get("router");
            if (string.IsNullOrEmpty(name)) return null;
            var label = Get("label");
            return new RouterMarker
            {
                Router = name!,
                Image = Get("image") ?? "",
                Label = string.IsNullOrEmpty(label) ? null : label,
                Family = string.Equals(Get("family"), "IPv6", StringComparison.OrdinalIgnoreCase) ? NetworkAddressFamily.IPv6 : NetworkAddressFamily.IPv4,
            };
        }

        /// <summary>
        /// Prefix of a Notes line recording the desired state of one link at this router's end:
        /// <c>linkstate:&lt;link&gt;=CablePulled|Silent</c> (no line = Up). Written before the ports change
        /// (docs/hyperv-backend.md §13.3), so a crash between the two leaves the wish on the host; it travels with the VM
        /// through live and cold migration (it is part of the VM's settings).
        /// </summary>
        public const string LinkStatePrefix = "linkstate:";

        /// <summary>The link states recorded in a router's Notes (links without a line are Up and not listed).</summary>
        public static Dictionary<string, LinkState> LinkStates(IEnumerable<string> notes)
        {
            var d = new Dictionary<string, LinkState>(StringComparer.OrdinalIgnoreCase);
            foreach (var l in NoteLines(notes))
            {
                if (!l.StartsWith(LinkStatePrefix, StringComparison.Ordinal)) continue;
                int eq = l.LastIndexOf('=');
                if (eq <= LinkStatePrefix.Length) continue;
                var link = l.Substring(LinkStatePrefix.Length, eq - LinkStatePrefix.Length);
                var value = l.Substring(eq + 1);
                if (string.Equals(value, nameof(LinkState.CablePulled), StringComparison.OrdinalIgnoreCase)) d[link] = LinkState.CablePulled;
                else if (string.Equals(value, nameof(LinkState.Silent), StringComparison.OrdinalIgnoreCase)) d[link] = LinkState.Silent;
            }
            return d;
        }

        /// <summary>
        /// The Notes with the line of <paramref name="link"/> set to <paramref name="state"/> (removed for Up), as one
        /// element like <see cref="RouterNotes"/>; every other line is kept in order.
        /// </summary>
        public static string[] WithLinkState(IEnumerable<string> notes, string link, LinkState state)
        {
            var lines = NoteLines(notes).Where(l => !(l.StartsWith(LinkStatePrefix, StringComparison.Ordinal) &&
                                                      l.LastIndexOf('=') > LinkStatePrefix.Length &&
                                                      string.Equals(l.Substring(LinkStatePrefix.Length, l.LastIndexOf('=') - LinkStatePrefix.Length), link, StringComparison.OrdinalIgnoreCase)))
                .ToList();
            if (state != LinkState.Up) lines.Add(LinkStatePrefix + link + "=" + state);
            return new[] { string.Join("\n", lines) };
        }

        public static bool IsFabric(IEnumerable<string> notes)
        {
            var lines = NoteLines(notes);
            return lines.Count > 0 && lines[0] == Marker && lines.Contains(KindFabric);
        }

        public static string NicName(string link) => NicPrefix + link;

        public static string? LinkOfNic(string? elementName) =>
            elementName != null && elementName.StartsWith(NicPrefix, StringComparison.Ordinal) && elementName.Length > NicPrefix.Length
                ? elementName.Substring(NicPrefix.Length) : null;

        public static string DiskFileName(string router) => router + ".vhdx";

        /// <summary>
        /// The file name of a router's disk when <c>&lt;router&gt;.vhdx</c> is taken on an SMB share, where a leftover
        /// cannot be deleted (see <see cref="IsLocalPath"/>): <c>&lt;router&gt;-&lt;8 hex digits&gt;.vhdx</c>.
        /// </summary>
        public static string UniqueDiskFileName(string router) => router + "-" + Guid.NewGuid().ToString("N").Substring(0, 8) + ".vhdx";

        /// <summary>Whether <paramref name="path"/> names a disk of router <paramref name="router"/> (either form above).</summary>
        public static bool IsDiskOf(string router, string? path)
        {
            if (path == null) return false;
            var file = path.Substring(path.LastIndexOf('\\') + 1);
            if (string.Equals(file, DiskFileName(router), StringComparison.OrdinalIgnoreCase)) return true;
            return file.Length == router.Length + 14 && file.StartsWith(router + "-", StringComparison.OrdinalIgnoreCase) &&
                   file.EndsWith(".vhdx", StringComparison.OrdinalIgnoreCase) && file.Substring(router.Length + 1, 8).All(Uri.IsHexDigit);
        }

        /// <summary>
        /// A path on one of the host's own volumes (<c>X:\...</c>, including cluster shared volumes under
        /// <c>C:\ClusterStorage</c>): only these are reachable through root\cimv2 CIM_DataFile, whose instances are the
        /// files of the host's local file systems (Win32 provider); a UNC path (an SMB share) is not one.
        /// </summary>
        public static bool IsLocalPath(string? path) =>
            path != null && path.Length >= 3 && char.IsLetter(path[0]) && path[1] == ':' && path[2] == '\\';

        /// <summary>
        /// The static MAC of one end of a link, 12 hex digits without separators (Hyper-V's form) in Microsoft's
        /// 00-15-5D OUI: 23 bits of SHA-256 over "link|from|to", the lowest bit 0 for the From end and 1 for the To end,
        /// so the two ends of a link always differ and the inventory can tell From from To.
        /// </summary>
        public static string Mac(string link, string from, string to, bool isFromEnd)
        {
            using var sha = SHA256.Create();
            var h = sha.ComputeHash(Encoding.UTF8.GetBytes(link.ToLowerInvariant() + "|" + from.ToLowerInvariant() + "|" + to.ToLowerInvariant()));
            int v = ((h[0] << 16) | (h[1] << 8) | h[2]) & 0xFFFFFE;
            if (!isFromEnd) v |= 1;
            return "00155D" + v.ToString("X6", CultureInfo.InvariantCulture);
        }

        /// <summary>"00155D0A0B0C" → "00:15:5d:0a:0b:0c" (the guest contract's form).</summary>
        public static string GuestMac(string mac)
        {
            var hex = new string((mac ?? "").Where(Uri.IsHexDigit).ToArray()).ToLowerInvariant();
            if (hex.Length != 12) return (mac ?? "").ToLowerInvariant();
            return string.Join(":", Enumerable.Range(0, 6).Select(i => hex.Substring(i * 2, 2)));
        }

        public static string NormalizeMac(string? mac) => new string((mac ?? "").Where(Uri.IsHexDigit).ToArray()).ToUpperInvariant();

        /// <summary>Escapes a WQL string literal (single quotes, backslashes).</summary>
        public static string Wql(string value) => value.Replace("\\", "\\\\").Replace("'", "\\'");

        /// <summary>
        /// Escapes a text used as a literal prefix inside a WQL LIKE pattern: the LIKE wildcards <c>[</c>, <c>%</c> and
        /// <c>_</c> become one-character sets (<c>[[]</c>, <c>[%]</c>, <c>[_]</c>), then the string literal is escaped
        /// (<see cref="Wql"/>: backslashes, quotes; fact sheet pitfall 22). Append the trailing <c>%</c> yourself.
        /// </summary>
        public static string WqlLike(string value)
        {
            var sb = new StringBuilder(value.Length + 8);
            foreach (var c in value)
            {
                if (c == '[' || c == '%' || c == '_') sb.Append('[').Append(c).Append(']');
                else sb.Append(c);
            }
            return Wql(sb.ToString());
        }
    }

    /// <summary>The content of a router VM's ownership marker.</summary>
    public sealed class RouterMarker
    {
        public string Router { get; set; } = "";
        public string Image { get; set; } = "";
        public string? Label { get; set; }
        public NetworkAddressFamily Family { get; set; }
    }
}
