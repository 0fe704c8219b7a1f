using System;
using System.Collections.Generic;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace VirtualNetworks.Linux.Net
{
    /// <summary>One network interface as the kernel reports it (<c>ip -j -d link show</c>), reduced to what the backend uses.</summary>
    public sealed class LinkInfo
    {
        public LinkInfo(string name, int index, string? kind, string? tunType, string? master, string operState, bool adminUp,
            string? alias, string? macAddress, int mtu)
        {
            Name = name;
            Index = index;
            Kind = kind;
            TunType = tunType;
            Master = master;
            OperState = operState;
            AdminUp = adminUp;
            Alias = alias;
            MacAddress = macAddress;
            Mtu = mtu;
            Tag = OwnershipTag.Parse(alias);
        }

        public string Name { get; }
        public int Index { get; }
        /// <summary>linkinfo.info_kind: "bridge", "tun" (taps too), "veth", "vxlan", ...; null for devices without one (lo, physical NICs).</summary>
        public string? Kind { get; }
        /// <summary>For Kind "tun": "tap" or "tun"; else null.</summary>
        public string? TunType { get; }
        /// <summary>The bridge (or other master) this device is a port of; null when none.</summary>
        public string? Master { get; }
        /// <summary>operstate: "UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN", ... (a tap nobody has opened is DOWN even when set up).</summary>
        public string OperState { get; }
        /// <summary>True when the administrative UP flag is set (<c>ip link set X up</c>).</summary>
        public bool AdminUp { get; }
        /// <summary>ifalias; null when unset.</summary>
        public string? Alias { get; }
        public string? MacAddress { get; }
        public int Mtu { get; }
        /// <summary>The ownership tag parsed from <see cref="Alias"/>; null when the device is not ours.</summary>
        public OwnershipTag? Tag { get; }
        /// <summary>For a bridge port: whether it learns MACs (linkinfo.info_slave_data.learning); null when not reported.</summary>
        public bool? BridgePortLearning { get; internal set; }
        /// <summary>For a VXLAN device: its VNI (linkinfo.info_data.id); null otherwise.</summary>
        public int? VxlanId { get; internal set; }
        /// <summary>For a VXLAN device: its local (source) address (linkinfo.info_data.local); null otherwise.</summary>
        public string? VxlanLocal { get; internal set; }
        public bool IsOwned => Tag != null;
        public bool IsBridge => string.Equals(Kind, "bridge", StringComparison.Ordinal);
        public bool IsTap => string.Equals(Kind, "tun", StringComparison.Ordinal) && string.Equals(TunType, "tap", StringComparison.Ordinal);

        public override string ToString() => Name + " (" + (Kind ?? "?") + (Master != null ? ", master " + Master : "") + (Alias != null ? ", alias " + Alias : "") + ")";

        /// <summary>Parses the JSON array printed by <c>ip -j [-d] link show</c>.</summary>
        /// <exception cref="VirtualNetworksException">The text is not the expected JSON (InvalidResult).</exception>
        internal static List<LinkInfo> ParseList(string json)
        {
            var list = new List<LinkInfo>();
            if (string.IsNullOrWhiteSpace(json)) return list;
            JArray array;
            try
            {
                array = JArray.Parse(json);
            }
            catch (JsonException ex)
            {
                throw new VirtualNetworksException(ErrorIds.BackendOperationFailed, ErrorKind.InvalidResult, "ip",
                    "The output of 'ip -j -d link show' is not the expected JSON array: " + ex.Message, ex);
            }
            foreach (var token in array)
            {
                if (!(token is JObject o)) continue;
                string? name = (string?)o["ifname"];
                if (string.IsNullOrEmpty(name)) continue;
                int index = (int?)o["ifindex"] ?? 0;
                var linkinfo = o["linkinfo"] as JObject;
                string? kind = linkinfo != null ? (string?)linkinfo["info_kind"] : null;
                string? tunType = null;
                if (kind == "tun" && linkinfo!["info_data"] is JObject data) tunType = (string?)data["type"];
                bool up = false;
                if (o["flags"] is JArray flags)
                {
                    foreach (var f in flags)
                    {
                        if ((string?)f == "UP") up = true;
                    }
                }
                string? alias = (string?)o["ifalias"];
                if (alias != null && alias.Length == 0) alias = null;
                var info = new LinkInfo(name!, index, kind, tunType, (string?)o["master"], (string?)o["operstate"] ?? "UNKNOWN", up,
                    alias, (string?)o["address"], (int?)o["mtu"] ?? 0);
                if (linkinfo?["info_slave_data"] is JObject slave && slave["learning"] is JValue learning && learning.Type == JTokenType.Boolean)
                    info.BridgePortLearning = (bool)learning;
                if (kind == "vxlan" && linkinfo!["info_data"] is JObject vx)
                {
                    info.VxlanId = (int?)vx["id"];
                    info.VxlanLocal = (string?)vx["local"];
                }
                list.Add(info);
            }
            return list;
        }
    }
}
