// Package nrpt builds the Windows Name Resolution Policy Table rules cvpn
// writes to the registry for split DNS: one key under
// HKLM\SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig
// per tunnel, sending the listed namespaces (or every name, for a full
// tunnel) to the tunnel's DNS servers. It only computes keys and values;
// package platform writes them with golang.org/x/sys/windows/registry.
package nrpt
