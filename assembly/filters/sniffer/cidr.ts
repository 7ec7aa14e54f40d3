// The address and CIDR code is shared by every filter: ../../runtime/net/cidr.ts.
export * from "../../runtime/net/cidr";
