using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Threading;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>Parameters of a VXLAN device (<see cref="IpCommand.CreateVxlan"/>).</summary>
    public sealed class VxlanOptions
    {
        /// <summary>VXLAN network identifier, 1-16777215.</summary>
        public int Vni { get; set; }
        /// <summary>Local underlay address (IPv4 or IPv6).</summary>
        public string Local { get; set; } = "";
        /// <summary>
        /// Remote underlay address (unicast point-to-point tunnel); null = none: the destinations come from FDB entries
        /// (<see cref="IpCommand.SetDefaultDestinations"/>), which can be changed without recreating the device.
        /// </summary>
        public string? Remote { get; set; }
        /// <summary>UDP destination port; 4789 is the IANA port.</summary>
        public int DestinationPort { get; set; } = 4789;
        /// <summary>Underlay device to bind the tunnel to; null = routed by the kernel.</summary>
        public string? UnderlayDevice { get; set; }
    }

    /// <summary>
    /// The host-network side of the Linux backend over iproute2's <c>ip</c> (and <c>bridge</c> for port VLANs): bridges,
    /// taps, VXLAN devices, ports, MTU, state. Every command is an executable plus an argument list (no shell), every name
    /// is validated before it reaches a command line, and every change to an existing device first reads its ifalias and
    /// refuses unless it carries an <see cref="OwnershipTag"/>: nothing untagged is ever modified or deleted.
    /// </summary>
    /// <remarks>
    /// <para>With a network namespace name (a lab host), every command runs as <c>ip -netns NAME ...</c> (and
    /// <c>bridge -netns NAME ...</c>), which acts inside that namespace exactly as <c>ip netns exec NAME ip ...</c>.</para>
    /// <para>Creation is create-then-tag: the kernel ignores IFLA_IFALIAS on RTM_NEWLINK, so the alias is set by a second
    /// command right after the first; if tagging fails, the just-created device is deleted again. Creating an object that
    /// already exists with the same tag is a no-op (returns false); a name held by a device with another tag or none is an
    /// error (a hash collision or a foreign device), never silently shared.</para>
    /// <para>The host is kept out of the segments: bridges and taps get <c>addrgenmode none</c> (no IPv6 link-local address
    /// on the host side, so the host sends nothing into a link by itself).</para>
    /// </remarks>
    public sealed class IpCommand
    {
        private readonly NetTools _tools;

        /// <param name="networkNamespace">Named network namespace (under /run/netns) to act in; null = the caller's namespace.</param>
        /// <param name="timeout">Time limit per command; default 20 s.</param>
        public IpCommand(string? networkNamespace = null, TimeSpan? timeout = null)
        {
            _tools = new NetTools(networkNamespace, timeout);
        }

        /// <summary>The namespace commands run in; null = the caller's.</summary>
        public string? NetworkNamespace => _tools.NetworkNamespace;

        internal NetTools Tools => _tools;

        // ------------------------------------------------------------------------------------------------ reading

        /// <summary>All interfaces (<c>ip -j -d link show</c>).</summary>
        public IReadOnlyList<LinkInfo> ListLinks(CancellationToken cancellationToken = default)
        {
            var result = _tools.RunChecked("ip", new[] { "-j", "-d", "link", "show" }, NetworkNamespace ?? "ip", cancellationToken);
            return LinkInfo.ParseList(result.StdOut);
        }

        /// <summary>
        /// All interfaces with their IPv4 addresses (CIDR, by interface name) in one read (<c>ip -j -d addr show</c>): what
        /// the underlay check of a host compares against its records.
        /// </summary>
        public (IReadOnlyList<LinkInfo> Links, Dictionary<string, HashSet<string>> Addresses) ListLinksWithAddresses(CancellationToken cancellationToken = default)
        {
            var result = _tools.RunChecked("ip", new[] { "-j", "-d", "addr", "show" }, NetworkNamespace ?? "ip", cancellationToken);
            var links = LinkInfo.ParseList(result.StdOut);
            var addresses = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            if (!string.IsNullOrWhiteSpace(result.StdOut))
            {
                foreach (var o in Newtonsoft.Json.Linq.JArray.Parse(result.StdOut))
                {
                    string? name = (string?)o["ifname"];
                    if (name == null) continue;
                    var set = addresses.TryGetValue(name, out var s) ? s : addresses[name] = new HashSet<string>(StringComparer.Ordinal);
                    if (!(o["addr_info"] is Newtonsoft.Json.Linq.JArray infos)) continue;
                    foreach (var a in infos)
                    {
                        if ((string?)a["family"] != "inet") continue;
                        string? local = (string?)a["local"];
                        int? len = (int?)a["prefixlen"];
                        if (local != null && len.HasValue) set.Add(local + "/" + len.Value.ToString(CultureInfo.InvariantCulture));
                    }
                }
            }
            return (links, addresses);
        }

        /// <summary>
        /// The named interfaces that exist, by name, read by one ip process whatever their number
        /// (<c>ip -force -j -d -batch -</c> with one <c>link show dev NAME</c> line each): what a link's (re)wiring looks at,
        /// O(its devices) instead of a listing of every interface of the host. A name that does not exist is left out.
        /// </summary>
        public Dictionary<string, LinkInfo> GetLinks(IEnumerable<string> names, CancellationToken cancellationToken = default)
        {
            var wanted = new List<string>();
            foreach (var n in names)
            {
                InterfaceNames.EnsureValid(n);
                if (!wanted.Contains(n, StringComparer.Ordinal)) wanted.Add(n);
            }
            var found = new Dictionary<string, LinkInfo>(StringComparer.Ordinal);
            if (wanted.Count == 0) return found;
            var input = string.Concat(wanted.Select(n => "link show dev " + n + "\n"));
            var result = _tools.RunWithInput("ip", new[] { "-force", "-j", "-d", "-batch", "-" }, input, cancellationToken);
            if (!result.Succeeded)
            {
                // With -force ip goes on past a missing device and exits 1; any other complaint is a failure.
                var complaints = result.StdErr.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 &&
                    l.IndexOf("does not exist", StringComparison.OrdinalIgnoreCase) < 0 && !l.StartsWith("Command failed", StringComparison.Ordinal)).ToList();
                if (complaints.Count > 0 || result.ExitCode != 1) throw NetTools.Failure(result, wanted[0]);
            }
            // One JSON array per line (one per command that found its device).
            foreach (var line in result.StdOut.Split('\n'))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                foreach (var link in LinkInfo.ParseList(line))
                    if (wanted.Contains(link.Name, StringComparer.Ordinal)) found[link.Name] = link;
            }
            return found;
        }

        /// <summary>One interface; null when it does not exist.</summary>
        public LinkInfo? GetLink(string name, CancellationToken cancellationToken = default)
        {
            InterfaceNames.EnsureValid(name);
            var result = _tools.Run("ip", new[] { "-j", "-d", "link", "show", "dev", name }, cancellationToken);
            if (NetTools.IsNoSuchDevice(result)) return null;
            if (!result.Succeeded) throw NetTools.Failure(result, name);
            foreach (var link in LinkInfo.ParseList(result.StdOut))
            {
                if (link.Name == name) return link;
            }
            return null;
        }

        /// <summary>
        /// The interface, which must exist and carry an ownership tag. Throws ObjectNotFound when missing and
        /// InvalidOperation when it is not ours.
        /// </summary>
        /// <param name="action">What the caller is about to do, for the message ("delete", "change the MTU of").</param>
        public LinkInfo RequireOwned(string name, string action = "change", CancellationToken cancellationToken = default)
        {
            var link = GetLink(name, cancellationToken);
            if (link == null)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ObjectNotFound, name,
                    "Cannot " + action + " interface '" + name + "'" + InNamespace() + ": it does not exist.");
            }
            if (!link.IsOwned) throw NotOwned(link, action);
            return link;
        }

        // ------------------------------------------------------------------------------------------------ creating

        /// <summary>
        /// Creates bridge <paramref name="name"/> (<c>type bridge stp_state 0 forward_delay 0</c>, plus
        /// <c>vlan_filtering 1</c> when <paramref name="vlanFiltering"/>; pass the capability probe's answer) and tags it.
        /// Returns false when it already exists with the same tag (nothing changed).
        /// </summary>
        public bool CreateBridge(string name, OwnershipTag tag, bool vlanFiltering = false, CancellationToken cancellationToken = default)
        {
            var args = new List<string> { "link", "add", "name", name, "type", "bridge", "stp_state", "0", "forward_delay", "0" };
            if (vlanFiltering)
            {
                args.Add("vlan_filtering");
                args.Add("1");
            }
            return CreateTagged(name, tag, "bridge", null, "ip", args, cancellationToken);
        }

        /// <summary>
        /// Creates a persistent tap <paramref name="name"/> (<c>ip tuntap add dev NAME mode tap</c>, single queue) and tags it.
        /// QEMU opens it by name: <c>-netdev tap,ifname=NAME,script=no,downscript=no</c>. Returns false when it already
        /// exists with the same tag.
        /// </summary>
        public bool CreateTap(string name, OwnershipTag tag, CancellationToken cancellationToken = default)
        {
            var args = new List<string> { "tuntap", "add", "dev", name, "mode", "tap" };
            return CreateTagged(name, tag, "tun", "tap", "ip", args, cancellationToken);
        }

        /// <summary>
        /// Creates a unicast VXLAN device (<c>type vxlan id VNI local A remote B dstport P [dev D] nolearning</c>) and tags
        /// it. Returns false when it already exists with the same tag.
        /// </summary>
        public bool CreateVxlan(string name, OwnershipTag tag, VxlanOptions options, CancellationToken cancellationToken = default)
        {
            if (options == null) throw new ArgumentNullException(nameof(options));
            if (options.Vni < 1 || options.Vni > 0xFFFFFF)
                throw new ArgumentOutOfRangeException(nameof(options), "The VXLAN id must be 1 to 16777215.");
            if (options.DestinationPort < 1 || options.DestinationPort > 65535)
                throw new ArgumentOutOfRangeException(nameof(options), "The VXLAN UDP port must be 1 to 65535.");
            string local = CheckAddress(options.Local, "local");
            var args = new List<string>
            {
                "link", "add", "name", name, "type", "vxlan", "id", options.Vni.ToString(CultureInfo.InvariantCulture),
                "local", local, "dstport", options.DestinationPort.ToString(CultureInfo.InvariantCulture),
            };
            if (options.Remote != null)
            {
                args.Add("remote");
                args.Add(CheckAddress(options.Remote, "remote"));
            }
            if (options.UnderlayDevice != null)
            {
                InterfaceNames.EnsureValid(options.UnderlayDevice, "underlay interface");
                args.Add("dev");
                args.Add(options.UnderlayDevice);
            }
            args.Add("nolearning");
            return CreateTagged(name, tag, "vxlan", null, "ip", args, cancellationToken);
        }

        // ------------------------------------------------------------------------------------------------ changing

        /// <summary>
        /// Makes <paramref name="port"/> a port of <paramref name="bridge"/>. Both must be ours, the bridge must be a
        /// bridge, and when both tags name a link it must be the same link (no cross-wiring of segments).
        /// </summary>
        public void SetMaster(string port, string bridge, CancellationToken cancellationToken = default)
        {
            var p = RequireOwned(port, "attach", cancellationToken);
            var b = RequireOwned(bridge, "attach ports to", cancellationToken);
            CheckAttach(port, p.Tag!, b);
            if (string.Equals(p.Master, bridge, StringComparison.Ordinal)) return;
            _tools.RunChecked("ip", new[] { "link", "set", "dev", port, "master", bridge }, port, cancellationToken);
        }

        /// <summary>
        /// Throws unless <paramref name="bridge"/> is one of ours, a bridge, and (when both tags name a link) of the same link
        /// as the port tagged <paramref name="portTag"/>: no cross-wiring of segments.
        /// </summary>
        internal void CheckAttach(string port, OwnershipTag portTag, LinkInfo bridge)
        {
            if (!bridge.IsOwned) throw NotOwned(bridge, "attach ports to");
            if (!bridge.IsBridge)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, bridge.Name,
                    "Cannot attach '" + port + "' to '" + bridge.Name + "': '" + bridge.Name + "' is a " + (bridge.Kind ?? "plain") + " device, not a bridge.");
            }
            if (portTag.LinkName != null && bridge.Tag!.LinkName != null &&
                !string.Equals(portTag.LinkName, bridge.Tag.LinkName, StringComparison.OrdinalIgnoreCase))
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, port,
                    "Cannot attach '" + port + "' (" + portTag.Alias + ") to bridge '" + bridge.Name + "' (" + bridge.Tag.Alias +
                    "): they belong to different links.");
            }
        }

        /// <summary>Takes <paramref name="port"/> (ours) off its bridge; no-op when it has none.</summary>
        public void SetNoMaster(string port, CancellationToken cancellationToken = default)
        {
            var p = RequireOwned(port, "detach", cancellationToken);
            if (p.Master == null) return;
            _tools.RunChecked("ip", new[] { "link", "set", "dev", port, "nomaster" }, port, cancellationToken);
        }

        /// <summary>Sets the administrative state of <paramref name="name"/> (ours) up.</summary>
        public void SetUp(string name, CancellationToken cancellationToken = default)
        {
            RequireOwned(name, "bring up", cancellationToken);
            _tools.RunChecked("ip", new[] { "link", "set", "dev", name, "up" }, name, cancellationToken);
        }

        /// <summary>Sets the administrative state of <paramref name="name"/> (ours) down.</summary>
        public void SetDown(string name, CancellationToken cancellationToken = default)
        {
            RequireOwned(name, "bring down", cancellationToken);
            _tools.RunChecked("ip", new[] { "link", "set", "dev", name, "down" }, name, cancellationToken);
        }

        /// <summary>Sets the MTU of <paramref name="name"/> (ours), 68-65535.</summary>
        public void SetMtu(string name, int mtu, CancellationToken cancellationToken = default)
        {
            if (mtu < 68 || mtu > 65535) throw new ArgumentOutOfRangeException(nameof(mtu), "The MTU must be 68 to 65535.");
            var link = RequireOwned(name, "change the MTU of", cancellationToken);
            if (link.Mtu == mtu) return;
            _tools.RunChecked("ip", new[] { "link", "set", "dev", name, "mtu", mtu.ToString(CultureInfo.InvariantCulture) }, name, cancellationToken);
        }

        /// <summary>
        /// Gives bridge port <paramref name="port"/> (ours) VLAN <paramref name="vlanId"/> as its untagged PVID
        /// (<c>bridge vlan add dev PORT vid N pvid untagged</c>) and drops the default VLAN 1 from it. Needs a bridge created
        /// with vlan_filtering, which only works where the capability probe says so.
        /// </summary>
        public void SetPortVlan(string port, int vlanId, CancellationToken cancellationToken = default)
        {
            if (vlanId < 1 || vlanId > 4094)
                throw new VirtualNetworksException(ErrorIds.InvalidVlanId, ErrorKind.InvalidArgument, port, "The VLAN id must be 1 to 4094, not " + vlanId.ToString(CultureInfo.InvariantCulture) + ".");
            var p = RequireOwned(port, "set the VLAN of", cancellationToken);
            if (p.Master == null)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, port,
                    "Cannot set the VLAN of '" + port + "': it is not a bridge port.");
            }
            string vid = vlanId.ToString(CultureInfo.InvariantCulture);
            _tools.RunChecked("bridge", new[] { "vlan", "add", "dev", port, "vid", vid, "pvid", "untagged" }, port, cancellationToken);
            if (vlanId != 1)
            {
                // Best effort: VLAN 1 may already be absent (bridge created with vlan_default_pvid 0). On a bridge of its
                // own, a leftover VLAN 1 membership carries nothing anyway: the PVID (what the port's frames get) is N now.
                _tools.Run("bridge", new[] { "vlan", "del", "dev", port, "vid", "1" }, cancellationToken);
            }
        }

        /// <summary>
        /// Brings <paramref name="name"/> to the given MTU, bridge (<paramref name="master"/>, null = leave as is) and
        /// administrative state in ONE <c>ip link set</c>, or none when it is already so. <paramref name="known"/> is its
        /// state from a <see cref="ListLinks"/> the caller just made (its ownership is checked here), or null for a device
        /// the caller has just created and tagged (everything is set). The caller checks that <paramref name="master"/> is
        /// our bridge of the same link (as <see cref="SetMaster"/> does).
        /// </summary>
        public void Configure(string name, LinkInfo? known, int mtu, string? master, bool up, CancellationToken cancellationToken = default)
        {
            InterfaceNames.EnsureValid(name);
            if (master != null) InterfaceNames.EnsureValid(master);
            if (mtu < 68 || mtu > 65535) throw new ArgumentOutOfRangeException(nameof(mtu), "The MTU must be 68 to 65535.");
            if (known != null && !known.IsOwned) throw NotOwned(known, "configure");
            var args = new List<string> { "link", "set", "dev", name };
            if (known == null || known.Mtu != mtu) { args.Add("mtu"); args.Add(mtu.ToString(CultureInfo.InvariantCulture)); }
            if (master != null && (known == null || !string.Equals(known.Master, master, StringComparison.Ordinal))) { args.Add("master"); args.Add(master); }
            if (known == null || known.AdminUp != up) args.Add(up ? "up" : "down");
            if (args.Count == 4) return;
            _tools.RunChecked("ip", args, name, cancellationToken);
        }

        /// <summary>
        /// Turns MAC learning of bridge port <paramref name="port"/> (ours) on or off (<c>bridge link set dev PORT learning
        /// on|off</c>). A port that does not learn never becomes the known location of a MAC: frames for MACs behind it are
        /// flooded (to every other port of the bridge) instead. Used for a link's VXLAN port, so a router that moves between
        /// hosts is never remembered behind the tunnel (docs/migration.md).
        /// </summary>
        public void SetPortLearning(string port, bool learning, CancellationToken cancellationToken = default)
        {
            var p = RequireOwned(port, "set MAC learning of", cancellationToken);
            if (p.Master == null)
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, port,
                    "Cannot set MAC learning of '" + port + "': it is not a bridge port.");
            SetPortLearningOfOwnedPort(port, learning, cancellationToken);
        }

        /// <summary><see cref="SetPortLearning"/> for a port the caller has just checked (ours, attached to our bridge).</summary>
        internal void SetPortLearningOfOwnedPort(string port, bool learning, CancellationToken cancellationToken = default)
        {
            InterfaceNames.EnsureValid(port);
            _tools.RunChecked("bridge", new[] { "link", "set", "dev", port, "learning", learning ? "on" : "off" }, port, cancellationToken);
        }

        /// <summary>
        /// Deletes <paramref name="name"/> when it carries an ownership tag. Returns false when it does not exist; throws
        /// (InvalidOperation) when it exists but is not ours.
        /// </summary>
        public bool Delete(string name, CancellationToken cancellationToken = default)
        {
            var link = GetLink(name, cancellationToken);
            if (link == null) return false;
            if (!link.IsOwned) throw NotOwned(link, "delete");
            var result = _tools.Run("ip", new[] { "link", "del", "dev", name }, cancellationToken);
            if (NetTools.IsNoSuchDevice(result)) return false;
            if (!result.Succeeded) throw NetTools.Failure(result, name);
            return true;
        }

        /// <summary>
        /// Deletes a device that a listing of this namespace just showed (<paramref name="seen"/>): the same ownership check
        /// as <see cref="Delete"/> on what the listing said, without a second look at the device (one ip process instead of
        /// two; batch removals list each host once). Returns false when the device is gone meanwhile.
        /// </summary>
        public bool DeleteSeen(LinkInfo seen, CancellationToken cancellationToken = default)
        {
            if (seen == null) throw new ArgumentNullException(nameof(seen));
            InterfaceNames.EnsureValid(seen.Name);
            if (!seen.IsOwned) throw NotOwned(seen, "delete");
            var result = _tools.Run("ip", new[] { "link", "del", "dev", seen.Name }, cancellationToken);
            if (NetTools.IsNoSuchDevice(result)) return false;
            if (!result.Succeeded) throw NetTools.Failure(result, seen.Name);
            return true;
        }

        /// <summary>
        /// Creates a veth pair: <paramref name="name"/> here (tagged <paramref name="tag"/>) and <paramref name="peerName"/>
        /// in <paramref name="peer"/>'s namespace (tagged <paramref name="peerTag"/>). Both ends are set up. Returns false
        /// when both ends already exist with these tags (nothing changed). A half-made pair (one end missing, or an end
        /// not tagged yet after a crash) is deleted and made again; an untagged device of either name is never touched.
        /// </summary>
        public bool CreateVethPair(string name, OwnershipTag tag, IpCommand peer, string peerName, OwnershipTag peerTag, CancellationToken cancellationToken = default)
        {
            if (peer == null) throw new ArgumentNullException(nameof(peer));
            InterfaceNames.EnsureValid(name);
            InterfaceNames.EnsureValid(peerName);
            var mine = GetLink(name, cancellationToken);
            var theirs = peer.GetLink(peerName, cancellationToken);
            if (mine != null && mine.Tag == null) CheckExisting(mine, tag, "veth", null);
            if (theirs != null && theirs.Tag == null) peer.CheckExisting(theirs, peerTag, "veth", null);
            if (mine != null && theirs != null && tag.Equals(mine.Tag) && peerTag.Equals(theirs.Tag))
            {
                CheckExisting(mine, tag, "veth", null);
                SetUp(name, cancellationToken);
                peer.SetUp(peerName, cancellationToken);
                return false;
            }
            if (mine != null) CheckExisting(mine, tag, "veth", null);
            if (theirs != null) peer.CheckExisting(theirs, peerTag, "veth", null);
            if (mine != null) Delete(name, cancellationToken);
            if (theirs != null) peer.Delete(peerName, cancellationToken);

            // The peer end goes straight into the other namespace: by name, or for the caller's own namespace by our pid
            // (the ip process itself runs elsewhere with -netns, but pid names the namespace this process lives in).
            string target = peer.NetworkNamespace ?? System.Diagnostics.Process.GetCurrentProcess().Id.ToString(CultureInfo.InvariantCulture);
            // Both ends made and tagged here, then the peer moved (its alias goes with it), by one ip process: a kill of this
            // process cannot leave an untagged end behind (which nothing could prove to be ours).
            var made = _tools.RunIpBatch(new IReadOnlyList<string>[]
            {
                new[] { "link", "add", "name", name, "mtu", "1500", "type", "veth", "peer", "name", peerName, "mtu", "1500" },
                new[] { "link", "set", "dev", name, "alias", tag.Alias },
                new[] { "link", "set", "dev", peerName, "alias", peerTag.Alias },
                new[] { "link", "set", "dev", peerName, "netns", target },
            }, cancellationToken);
            if (!made.Succeeded)
            {
                try { _tools.Run("ip", new[] { "link", "del", "dev", name }, CancellationToken.None); } // the pair, if it was made
                catch (VirtualNetworksException) { }
                throw NetTools.Failure(made, name);
            }
            try
            {
                Tag(name, tag, cancellationToken);
                peer.Tag(peerName, peerTag, cancellationToken);
                SetUp(name, cancellationToken);
                peer.SetUp(peerName, cancellationToken);
            }
            catch
            {
                try { _tools.Run("ip", new[] { "link", "del", "dev", name }, CancellationToken.None); }
                catch (VirtualNetworksException) { }
                throw;
            }
            return true;
        }

        /// <summary>
        /// Makes <paramref name="cidrs"/> the IPv4 addresses of <paramref name="name"/> (ours): missing ones are added,
        /// other global IPv4 addresses removed. Idempotent.
        /// </summary>
        public void SetAddresses(string name, IReadOnlyCollection<string> cidrs, CancellationToken cancellationToken = default)
        {
            RequireOwned(name, "set the addresses of", cancellationToken);
            var want = new HashSet<string>(cidrs, StringComparer.Ordinal);
            var have = ListAddresses(name, cancellationToken);
            foreach (var c in want)
                if (!have.Contains(c)) _tools.RunChecked("ip", new[] { "addr", "replace", c, "dev", name }, name, cancellationToken);
            foreach (var c in have)
                if (!want.Contains(c)) _tools.Run("ip", new[] { "addr", "del", c, "dev", name }, cancellationToken);
        }

        /// <summary>The IPv4 addresses (CIDR) of <paramref name="name"/>; empty when it does not exist.</summary>
        public HashSet<string> ListAddresses(string name, CancellationToken cancellationToken = default)
        {
            InterfaceNames.EnsureValid(name);
            var set = new HashSet<string>(StringComparer.Ordinal);
            var r = _tools.Run("ip", new[] { "-j", "-4", "addr", "show", "dev", name }, cancellationToken);
            if (!r.Succeeded || string.IsNullOrWhiteSpace(r.StdOut)) return set;
            foreach (var o in Newtonsoft.Json.Linq.JArray.Parse(r.StdOut))
            {
                if (!(o["addr_info"] is Newtonsoft.Json.Linq.JArray infos)) continue;
                foreach (var a in infos)
                {
                    string? local = (string?)a["local"];
                    int? len = (int?)a["prefixlen"];
                    if (local != null && len.HasValue) set.Add(local + "/" + len.Value.ToString(CultureInfo.InvariantCulture));
                }
            }
            return set;
        }

        /// <summary>The route protocol number the module marks its underlay routes with (<c>proto 118</c>, 0x76 = 'v').</summary>
        public const int RouteProtocol = 118;

        /// <summary>IPv4 routes marked <see cref="RouteProtocol"/> in the main table: destination (CIDR) -> (gateway, device).</summary>
        public Dictionary<string, (string? Via, string? Device, string? Source)> ListOwnedRoutes(CancellationToken cancellationToken = default)
        {
            var map = new Dictionary<string, (string?, string?, string?)>(StringComparer.Ordinal);
            var r = _tools.RunChecked("ip", new[] { "-j", "-4", "route", "show", "proto", RouteProtocol.ToString(CultureInfo.InvariantCulture) }, "route", cancellationToken);
            if (string.IsNullOrWhiteSpace(r.StdOut)) return map;
            foreach (var o in Newtonsoft.Json.Linq.JArray.Parse(r.StdOut))
            {
                string? dst = (string?)o["dst"];
                if (dst == null) continue;
                if (dst.IndexOf('/') < 0) dst += "/32";
                map[dst] = ((string?)o["gateway"], (string?)o["dev"], (string?)o["prefsrc"]);
            }
            return map;
        }

        /// <summary>Adds or replaces the route <paramref name="destination"/> via <paramref name="via"/> on <paramref name="device"/> (ours), marked <see cref="RouteProtocol"/>.</summary>
        /// <param name="source">Preferred source address (<c>src</c>) for traffic this host originates; null = the kernel's choice.</param>
        public void ReplaceOwnedRoute(string destination, string via, string device, string? source = null, CancellationToken cancellationToken = default)
        {
            RequireOwned(device, "route through", cancellationToken);
            CheckAddress(via, "gateway");
            var args = new List<string> { "route", "replace", destination, "via", via, "dev", device, "proto", RouteProtocol.ToString(CultureInfo.InvariantCulture) };
            if (source != null)
            {
                args.Add("src");
                args.Add(CheckAddress(source, "source"));
            }
            _tools.RunChecked("ip", args, destination, cancellationToken);
        }

        /// <summary>Deletes the route to <paramref name="destination"/> when it is marked <see cref="RouteProtocol"/>; false when there was none.</summary>
        public bool DeleteOwnedRoute(string destination, CancellationToken cancellationToken = default)
        {
            var r = _tools.Run("ip", new[] { "route", "del", destination, "proto", RouteProtocol.ToString(CultureInfo.InvariantCulture) }, cancellationToken);
            return r.Succeeded;
        }

        /// <summary>The underlay destinations of the all-zero (default) FDB entries of VXLAN device <paramref name="name"/>.</summary>
        public HashSet<string> ListDefaultDestinations(string name, CancellationToken cancellationToken = default)
        {
            InterfaceNames.EnsureValid(name);
            var set = new HashSet<string>(StringComparer.Ordinal);
            var r = _tools.Run("bridge", new[] { "-j", "fdb", "show", "dev", name }, cancellationToken);
            if (!r.Succeeded || string.IsNullOrWhiteSpace(r.StdOut)) return set;
            foreach (var o in Newtonsoft.Json.Linq.JArray.Parse(r.StdOut))
            {
                if ((string?)o["mac"] != "00:00:00:00:00:00") continue;
                string? dst = (string?)o["dst"];
                if (dst != null) set.Add(dst);
            }
            return set;
        }

        /// <summary>
        /// Makes <paramref name="destinations"/> the default FDB entries of VXLAN device <paramref name="name"/> (ours):
        /// <c>bridge fdb append 00:00:00:00:00:00 dev NAME dst X</c> for missing ones, <c>bridge fdb del</c> for others.
        /// Frames to unknown MACs (nolearning: all of them) and broadcasts go to every destination. Idempotent; repointing a
        /// tunnel (a router moved to another host) is a change of these entries, the device stays.
        /// </summary>
        public void SetDefaultDestinations(string name, IReadOnlyCollection<string> destinations, CancellationToken cancellationToken = default)
        {
            RequireOwned(name, "set the tunnel destinations of", cancellationToken);
            var want = new HashSet<string>(destinations.Select(d => CheckAddress(d, "destination")), StringComparer.Ordinal);
            var have = ListDefaultDestinations(name, cancellationToken);
            foreach (var d in want.Where(d => !have.Contains(d)).OrderBy(d => d, StringComparer.Ordinal))
                _tools.RunChecked("bridge", new[] { "fdb", "append", "00:00:00:00:00:00", "dev", name, "dst", d }, name, cancellationToken);
            foreach (var d in have.Where(d => !want.Contains(d)).OrderBy(d => d, StringComparer.Ordinal))
                _tools.RunChecked("bridge", new[] { "fdb", "del", "00:00:00:00:00:00", "dev", name, "dst", d }, name, cancellationToken);
        }

        // ------------------------------------------------------------------------------------------------ helpers

        private bool CreateTagged(string name, OwnershipTag tag, string kind, string? tunType, string tool, List<string> args,
            CancellationToken cancellationToken)
        {
            if (tag == null) throw new ArgumentNullException(nameof(tag));
            InterfaceNames.EnsureValid(name);
            var existing = GetLink(name, cancellationToken);
            if (existing != null) return CheckExisting(existing, tag, kind, tunType);

            // Created and tagged by one ip process: a kill of this process between the two cannot leave the device untagged
            // (which nothing could then prove to be ours, so a re-run would stop at it).
            var created = tool == "ip"
                ? _tools.RunIpBatch(new[] { (IReadOnlyList<string>)args, new[] { "link", "set", "dev", name, "alias", tag.Alias } }, cancellationToken)
                : _tools.Run(tool, args, cancellationToken);
            if (!created.Succeeded && tool == "ip" && GetLink(name, cancellationToken) is LinkInfo made && made.Tag == null &&
                created.StdErr.IndexOf("exists", StringComparison.OrdinalIgnoreCase) < 0)
            {
                // The device was made but its tag refused: take it away again rather than leave an untagged device.
                try { _tools.Run("ip", new[] { "link", "del", "dev", name }, CancellationToken.None); }
                catch (VirtualNetworksException) { }
                throw NetTools.Failure(created, name);
            }
            if (!created.Succeeded)
            {
                // Lost a race with another creator: judge what is there now.
                if (created.StdErr.IndexOf("exists", StringComparison.OrdinalIgnoreCase) >= 0 ||
                    created.StdErr.IndexOf("Device or resource busy", StringComparison.OrdinalIgnoreCase) >= 0)
                {
                    var now = GetLink(name, cancellationToken);
                    if (now != null) return CheckExisting(now, tag, kind, tunType);
                }
                throw NetTools.Failure(created, name);
            }

            try
            {
                Tag(name, tag, cancellationToken); // again, with addrgenmode none (best effort)
            }
            catch
            {
                // We created it in this call and could not tag it: take it away again rather than leave an untagged device.
                try { _tools.Run("ip", new[] { "link", "del", "dev", name }, CancellationToken.None); }
                catch (VirtualNetworksException) { }
                throw;
            }
            return true;
        }

        /// <summary>Sets the alias (and addrgenmode none, best effort: it fails where IPv6 is disabled).</summary>
        internal void Tag(string name, OwnershipTag tag, CancellationToken cancellationToken)
        {
            var both = _tools.Run("ip", new[] { "link", "set", "dev", name, "alias", tag.Alias, "addrgenmode", "none" }, cancellationToken);
            if (both.Succeeded) return;
            _tools.RunChecked("ip", new[] { "link", "set", "dev", name, "alias", tag.Alias }, name, cancellationToken);
        }

        internal bool CheckExisting(LinkInfo existing, OwnershipTag tag, string kind, string? tunType)
        {
            if (existing.Tag == null)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceExists, existing.Name,
                    "Cannot create interface '" + existing.Name + "'" + InNamespace() + " for " + tag.Alias + ": an interface of that name already exists and was not created by VirtualNetworks (" +
                    (existing.Alias == null ? "it has no ifalias" : "its ifalias is " + NetText.Quote(existing.Alias)) + "). It is left alone.")
                {
                    RecommendedAction = "If it is a leftover of an interrupted run, inspect it with 'ip -d link show dev " + existing.Name +
                                        "' and delete it by hand ('ip link del dev " + existing.Name + "').",
                };
            }
            if (existing.Tag.StateId != null && tag.StateId != null && !existing.Tag.BelongsTo(tag.StateId))
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceExists, existing.Name,
                    "Cannot create interface '" + existing.Name + "'" + InNamespace() + " for " + tag.Alias + ": the name is taken by " +
                    existing.Tag.Alias + ", a device of another state directory (state id " + existing.Tag.StateId + "). It is left alone; " +
                    "rename the object, or remove it with that state directory.");
            }
            bool legacy = existing.Tag.IsLegacyOf(tag) && tag.StateId != null;
            if (!legacy && !existing.Tag.Equals(tag))
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceExists, existing.Name,
                    "Cannot create interface '" + existing.Name + "'" + InNamespace() + " for " + tag.Alias + ": the name is taken by " +
                    existing.Tag.Alias + " (a hash collision of the interface names, or a leftover). Rename one of the objects.");
            }
            bool kindMatches = string.Equals(existing.Kind, kind, StringComparison.Ordinal) &&
                               (tunType == null || string.Equals(existing.TunType, tunType, StringComparison.Ordinal));
            if (!kindMatches)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.ResourceExists, existing.Name,
                    "Interface '" + existing.Name + "'" + InNamespace() + " (" + existing.Tag.Alias + ") exists but is a " + (existing.Kind ?? "plain") +
                    " device, not " + (tunType ?? kind) + ". Remove it (orphan clean-up) and try again.");
            }
            // A v1 tag (written before state ids) of the same object: adopt it for this state directory.
            if (legacy) Tag(existing.Name, tag, CancellationToken.None);
            return false;
        }

        internal VirtualNetworksException NotOwned(LinkInfo link, string action) =>
            new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidOperation, link.Name,
                "Refusing to " + action + " interface '" + link.Name + "'" + InNamespace() + ": it was not created by VirtualNetworks (" +
                (link.Alias == null ? "it has no ifalias" : "its ifalias is " + NetText.Quote(link.Alias)) +
                "). Only interfaces whose ifalias starts with '" + OwnershipTag.V2Prefix + "' (or the older '" + OwnershipTag.V1Prefix + "') are changed or removed.");

        private string InNamespace() => NetworkNamespace == null ? "" : " in network namespace '" + NetworkNamespace + "'";

        private static string CheckAddress(string? text, string what)
        {
            if (string.IsNullOrEmpty(text) || !IPAddress.TryParse(text, out var address) || text!.IndexOf('%') >= 0)
                throw new ArgumentException("The VXLAN " + what + " address " + NetText.Quote(text) + " is not an IPv4 or IPv6 address.", nameof(text));
            return address.ToString();
        }
    }
}
